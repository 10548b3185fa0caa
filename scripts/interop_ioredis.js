// ioredis defineCommand interoperability check (run by scripts/interop).
//
//   NODE_PATH=<dir>/node_modules node scripts/interop_ioredis.js PORT
//
// ioredis (5.x) runs a command made with defineCommand as EVAL the first time on a
// connection and as EVALSHA after that; an EVALSHA answered with NOSCRIPT is sent again,
// which turns it back into an EVAL. The check drives both paths (SCRIPT FLUSH between
// calls) and proves which commands reached the server from INFO commandstats.
// Prints one line per step; exits non-zero on the first failure. Every wait is bounded.
"use strict";

const Redis = require("ioredis");

const port = Number(process.argv[2]);
if (!port) {
  console.error("usage: interop_ioredis.js PORT");
  process.exit(2);
}
const prefix = `interop:ioredis:${process.pid}:`;

// A bounded client: no reconnect loop, no offline queue, per-command timeout.
function client(extra = {}) {
  return new Redis({
    host: "127.0.0.1",
    port,
    connectTimeout: 5000,
    commandTimeout: 5000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: true,
    retryStrategy: () => null,
    ...extra,
  });
}

function assertEq(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: expected ${e}, got ${a}`);
}

// cmdstat_eval / cmdstat_evalsha counters from INFO commandstats.
async function stats(admin) {
  const info = await admin.info("commandstats");
  const out = { eval: 0, evalsha: 0, evalshaFailed: 0 };
  for (const line of info.split(/\r?\n/)) {
    const m = /^cmdstat_(eval|evalsha):(.*)$/.exec(line);
    if (!m) continue;
    const fields = Object.fromEntries(m[2].split(",").map((kv) => kv.split("=")));
    if (m[1] === "eval") out.eval = Number(fields.calls);
    else {
      out.evalsha = Number(fields.calls) + Number(fields.rejected_calls || 0);
      out.evalshaFailed = Number(fields.failed_calls || 0) + Number(fields.rejected_calls || 0);
    }
  }
  return out;
}

async function delta(admin, before, what, want) {
  const after = await stats(admin);
  const got = {
    eval: after.eval - before.eval,
    evalsha: after.evalsha - before.evalsha,
    evalshaFailed: after.evalshaFailed - before.evalshaFailed,
  };
  assertEq(got, want, `${what}: commands seen by the server (INFO commandstats deltas)`);
  return after;
}

// KEYS[1] += ARGV[1]; KEYS[2] = the new value; returns {new value, KEYS[2] read back, ARGV[2], KEYS[1]}.
const LUA = `
local v = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], v)
return {v, redis.call('GET', KEYS[2]), ARGV[2], KEYS[1]}
`;

async function main() {
  const admin = client();
  // keyPrefix: ioredis prefixes the first numberOfKeys arguments only.
  const r = client({ keyPrefix: prefix });
  try {
    r.defineCommand("bump", { numberOfKeys: 2, lua: LUA });
    await admin.script("FLUSH");
    let s = await stats(admin);

    // 1. First call on this connection: EVAL with the script's body.
    assertEq(await r.bump("n", "copy", 5, "tag"), [5, "5", "tag", `${prefix}n`], "first call (EVAL)");
    s = await delta(admin, s, "first call", { eval: 1, evalsha: 0, evalshaFailed: 0 });
    console.log("ok    first call on a connection goes out as EVAL (keys prefixed, ARGV passed through)");

    // 2. Second call: EVALSHA of the script EVAL cached.
    assertEq(await r.bump("n", "copy", 2, "x"), [7, "7", "x", `${prefix}n`], "second call (EVALSHA)");
    s = await delta(admin, s, "second call", { eval: 0, evalsha: 1, evalshaFailed: 0 });
    console.log("ok    second call goes out as EVALSHA and succeeds");

    // 3. SCRIPT FLUSH: EVALSHA gets NOSCRIPT, ioredis resends it as EVAL.
    assertEq(await admin.script("FLUSH"), "OK", "SCRIPT FLUSH");
    s = await stats(admin);
    assertEq(await r.bump("n", "copy", 3, "y"), [10, "10", "y", `${prefix}n`], "call after SCRIPT FLUSH");
    s = await delta(admin, s, "call after SCRIPT FLUSH", { eval: 1, evalsha: 1, evalshaFailed: 1 });
    console.log("ok    after SCRIPT FLUSH: EVALSHA answered NOSCRIPT, ioredis fell back to EVAL");

    // 4. And EVALSHA works again.
    assertEq(await r.bump("n", "copy", 1, "z"), [11, "11", "z", `${prefix}n`], "call after the fallback");
    s = await delta(admin, s, "call after the fallback", { eval: 0, evalsha: 1, evalshaFailed: 0 });
    console.log("ok    next call is an EVALSHA again");

    // 5. In a pipeline, after another flush: NOSCRIPT inside the pipeline, same fallback.
    await admin.script("FLUSH");
    s = await stats(admin);
    // (The fallback EVAL is sent after the pipeline, so only the script's own reply is checked.)
    const res = await r.pipeline().bump("n", "copy", 4, "p").exec();
    assertEq(res, [[null, [15, "15", "p", `${prefix}n`]]], "pipeline after SCRIPT FLUSH");
    assertEq(await r.get("copy"), "15", "GET after the pipeline");
    s = await delta(admin, s, "pipeline after SCRIPT FLUSH", { eval: 1, evalsha: 1, evalshaFailed: 1 });
    console.log("ok    pipeline: NOSCRIPT in a pipeline falls back to EVAL too");

    // 6. A script error reaches the caller as a rejected promise with the server's message.
    r.defineCommand("boom", { numberOfKeys: 0, lua: "return redis.call('INCR')" });
    let err = null;
    try {
      await r.boom();
    } catch (e) {
      err = e;
    }
    if (!err || !/wrong number of arguments|ERR/i.test(err.message)) {
      throw new Error(`script error: expected an ERR reply, got ${err ? err.message : "success"}`);
    }
    console.log(`ok    script error is a rejected promise (${err.message.split("\n")[0].slice(0, 80)})`);

    await admin.del(`${prefix}n`, `${prefix}copy`);
  } finally {
    r.disconnect();
    admin.disconnect();
  }
}

const timer = setTimeout(() => {
  console.error("FAIL  timed out after 30 s");
  process.exit(1);
}, 30000);
main().then(
  () => {
    clearTimeout(timer);
    process.exit(0);
  },
  (e) => {
    clearTimeout(timer);
    console.error(`FAIL  ${e && e.stack ? e.stack : e}`);
    process.exit(1);
  },
);
