-- Builds the script environment once per Lua state: the redis API around the natives
-- the server passes in, Redis's error handler, and read-only globals and libraries.
-- Returns the runner that calls a compiled script under that handler, and the writable
-- redis table; for a functions state also the library loader and the environment
-- library code runs in.
local G, native, functions_mode = ...
local dbg = G.debug
local error, type, tostring, select, rawget, rawset = error, type, tostring, select, rawget, rawset
local raw_setmetatable, raw_pcall, raw_setfenv, unpack = setmetatable, pcall, setfenv, unpack

local function readonly()
  error('Attempt to modify a readonly table', 2)
end
local protected = raw_setmetatable({}, { __mode = 'k' })
-- A protected table's metatable, as getmetatable shows it: a read-only view, so code
-- that reaches it (getmetatable(_G).__index = ...) gets Redis's readonly error.
local function sealed(mt)
  mt.__metatable = raw_setmetatable({}, { __index = mt, __newindex = readonly, __metatable = false })
  return mt
end

local function pack(...)
  return { n = select('#', ...), ... }
end

-- redis.*
local redis = {}
redis.call, redis.pcall, redis.acl_check_cmd = native.call, native.pcall, native.acl_check_cmd
-- Functions that raise errors are natives: a Lua function would lose the caller's
-- line when tail-called (`return redis.setresp(4)`), which Redis's C functions keep.
redis.sha1hex, redis.log, redis.setresp, redis.set_repl = native.sha1hex, native.log, native.setresp, native.set_repl
local function single_field(field, ...)
  if select('#', ...) ~= 1 or type((...)) ~= 'string' then
    return { err = 'ERR wrong number or type of arguments' }
  end
  return { [field] = (...) }
end
function redis.status_reply(...)
  return single_field('ok', ...)
end
function redis.error_reply(...)
  if select('#', ...) ~= 1 or type((...)) ~= 'string' then
    return { err = 'ERR wrong number or type of arguments' }
  end
  return native.error_table((...))
end
function redis.replicate_commands()
  return true
end
function redis.breakpoint()
  return false
end
function redis.debug() end
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
redis.REDIS_VERSION, redis.REDIS_VERSION_NUM = native.version, native.version_num
G.redis = redis

-- math.random from Redis's redisLrand48 sequence.
G.math.random, G.math.randomseed = native.random, native.randomseed

-- pcall hands back the message of an error table, as Redis's does.
G.pcall = function(...)
  local res = pack(raw_pcall(...))
  if not res[1] then
    local e = res[2]
    if type(e) == 'userdata' then
      e = native.unwrap(e) or e
    end
    if type(e) == 'table' then
      local m = e.err
      if type(m) == 'string' or type(m) == 'number' then
        e = m
      end
    end
    return false, e
  end
  return unpack(res, 1, res.n)
end

-- Binary chunks can break the VM's invariants: refused, as Redis refuses them.
local raw_loadstring = G.loadstring
G.loadstring = function(s, name)
  if type(s) == 'string' and s:byte(1) == 27 then
    return nil, 'bytecode loading is not allowed'
  end
  return raw_loadstring(s, name)
end
G.load = nil

-- Redis's error handler: an error becomes {err=..., source=..., line=...} naming the
-- script line that raised it (not a C function or this prelude).
local function handler(err)
  local level, info = 2, nil
  repeat
    info = dbg.getinfo(level, 'Sl')
    level = level + 1
  until not info or (info.what ~= 'C' and info.source ~= '=ferrocache')
  if type(err) == 'userdata' then
    err = native.unwrap(err) or err
  end
  if type(err) ~= 'table' then
    err = { err = 'ERR ' .. tostring(err) }
  end
  if info then
    err.source = info.source
    err.line = info.currentline
  end
  return err
end

-- Only what Redis offers stays global.
local allowed = {
  string = 1, cjson = 1, bit = 1, cmsgpack = 1, math = 1, table = 1, struct = 1, redis = 1,
  xpcall = 1, tostring = 1, getfenv = 1, setmetatable = 1, next = 1, assert = 1, tonumber = 1,
  rawequal = 1, collectgarbage = 1, getmetatable = 1, rawset = 1, pcall = 1, coroutine = 1,
  type = 1, _G = 1, select = 1, unpack = 1, gcinfo = 1, pairs = 1, rawget = 1, loadstring = 1,
  ipairs = 1, _VERSION = 1, setfenv = 1, error = 1, newproxy = 1,
}
for name in pairs(G) do
  if not allowed[name] then
    G[name] = nil
  end
end

-- Libraries are read-only views; the global table refuses new names and reports
-- unknown ones.
local function protect(t)
  local view = raw_setmetatable({}, sealed({ __index = t, __newindex = readonly }))
  protected[view] = true
  return view
end
for _, name in ipairs({ 'string', 'cjson', 'bit', 'cmsgpack', 'math', 'table', 'struct', 'redis', 'coroutine' }) do
  if rawget(G, name) then
    rawset(G, name, protect(rawget(G, name)))
  end
end
G.setmetatable = function(t, mt)
  if t == G or protected[t] then
    error('Attempt to modify a readonly table', 0)
  end
  return raw_setmetatable(t, mt)
end
G.rawset = function(t, k, v)
  if t == G or protected[t] then
    error('Attempt to modify a readonly table', 0)
  end
  return rawset(t, k, v)
end
protected[G] = true
raw_setmetatable(G, sealed({
  __index = function(_, name)
    error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
  end,
  __newindex = readonly,
}))

-- Scripts and libraries run in an empty read-only table whose lookups go to the
-- globals, so no global can be replaced either (`redis = nil` fails as a new name
-- does), as with Redis's read-only global table. `_G` and loadstring'ed chunks see it.
local env_mt = sealed({ __index = G, __newindex = readonly })
local env = raw_setmetatable({}, env_mt)
protected[env] = true
rawset(G, '_G', env)
local checked_loadstring = G.loadstring
rawset(G, 'loadstring', function(s, name)
  local f, e = checked_loadstring(s, name)
  if f then
    raw_setfenv(f, env)
  end
  return f, e
end)

-- KEYS and ARGV from a run's arguments: `nkeys` then the keys and arguments as strings,
-- or -1 then the two tables already built (for runs with many of them).
local function split(nkeys, ...)
  if nkeys < 0 then
    return ...
  end
  local keys, argv = { ... }, {}
  for i = nkeys + 1, select('#', ...) do
    argv[i - nkeys], keys[i] = keys[i], nil
  end
  return keys, argv
end

if not functions_mode then
  return function(f, nkeys, ...)
    local keys, argv = split(nkeys, ...)
    rawset(G, 'KEYS', keys)
    rawset(G, 'ARGV', argv)
    return xpcall(f, handler)
  end, redis, env
end

-- Function libraries: while a library's code runs, lookups go to the registration
-- API alone (redis.register_function, redis.log, the constants), as in Redis.
local function missing(_, name)
  error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
end
local lib_redis = {
  register_function = native.register_function,
  log = native.log,
  LOG_DEBUG = redis.LOG_DEBUG, LOG_VERBOSE = redis.LOG_VERBOSE,
  LOG_NOTICE = redis.LOG_NOTICE, LOG_WARNING = redis.LOG_WARNING,
  REDIS_VERSION = redis.REDIS_VERSION, REDIS_VERSION_NUM = redis.REDIS_VERSION_NUM,
}
raw_setmetatable(lib_redis, sealed({ __index = missing, __newindex = readonly }))
local lib_api = raw_setmetatable({ redis = lib_redis }, sealed({ __index = missing, __newindex = readonly }))
protected[lib_redis] = true

local function call(f, nkeys, ...)
  local keys, argv = split(nkeys, ...)
  return xpcall(function()
    return f(keys, argv)
  end, handler)
end
local function load(chunk)
  env_mt.__index = lib_api
  local ok, err = raw_pcall(chunk)
  env_mt.__index = G
  return ok, err
end
return call, redis, env, load
