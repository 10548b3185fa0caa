#!/usr/bin/env bash
# Regenerates the RDB seed corpus in fuzz/corpus/fuzz_rdb: three dumps written by stock
# redis-server (default encodings; every collection in its plain encoding; no LZF and no
# checksum) and hand-made files with the encodings only older versions write.
# Needs redis-server and redis-cli in PATH.
set -euo pipefail
OUT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/corpus/fuzz_rdb"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$OUT"

dump() { # dump NAME [redis-server args...]
    local name=$1 port
    shift
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    redis-server --port "$port" --bind 127.0.0.1 --dir "$TMP" --dbfilename "$name" --save "" \
        --appendonly no --daemonize yes --pidfile "$TMP/$name.pid" --logfile "$TMP/$name.log" "$@"
    for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
    local c=(redis-cli -p "$port")
    "${c[@]}" set s1 hello >/dev/null
    "${c[@]}" set n1 12345 >/dev/null
    "${c[@]}" set n2 -70000 >/dev/null
    "${c[@]}" set big 9223372036854775807 >/dev/null
    "${c[@]}" set lzf "$(printf 'a%.0s' {1..64})$(printf 'b%.0s' {1..37})" >/dev/null
    "${c[@]}" set ttl v PX 99999999 >/dev/null
    "${c[@]}" rpush l a b 1 2 300 -5 70000 "longer element text" >/dev/null
    "${c[@]}" sadd si 1 2 3 -4 100000 >/dev/null
    "${c[@]}" sadd ss a b c >/dev/null
    "${c[@]}" hset h f1 v1 f2 2 f3 "x y" >/dev/null
    "${c[@]}" zadd z 1 a 2.5 b -3 c inf d >/dev/null
    "${c[@]}" -n 3 set other db3 >/dev/null
    "${c[@]}" -n 3 expire other 100000 >/dev/null
    "${c[@]}" save >/dev/null
    "${c[@]}" shutdown nosave >/dev/null 2>&1 || true
    cp "$TMP/$name" "$OUT/$name"
}
dump redis7-compact.rdb
dump redis7-plain-encodings.rdb --hash-max-listpack-entries 0 --zset-max-listpack-entries 0 \
    --set-max-intset-entries 0 --list-max-listpack-size 1
dump redis7-nocompress-nocrc.rdb --rdbcompression no --rdbchecksum no

python3 - "$OUT" <<'EOF'
import struct, sys
out = sys.argv[1]
def ln(n):
    if n < 64: return bytes([n])
    if n < 16384: return bytes([0x40 | (n >> 8), n & 0xff])
    return b'\x80' + struct.pack('>I', n)
def s(b):
    if isinstance(b, str): b = b.encode()
    return ln(len(b)) + b
def ziplist(items):
    body, prev = b'', 0
    for it in items:
        e = bytes([prev]) if prev < 254 else b'\xfe' + struct.pack('<I', prev)
        if isinstance(it, int):
            if 0 <= it <= 12: e += bytes([0xF1 + it])
            elif -128 <= it < 128: e += b'\xfe' + struct.pack('<b', it)
            elif -32768 <= it < 32768: e += b'\xc0' + struct.pack('<h', it)
            else: e += b'\xe0' + struct.pack('<q', it)
        else:
            it = it.encode()
            e += bytes([len(it)]) + it
        prev = len(e)
        body += e
    return struct.pack('<IIH', 10 + len(body) + 1, 10 + len(body) - prev, len(items)) + body + b'\xff'
def intset(vals, w=2):
    fmt = {2: '<h', 4: '<i', 8: '<q'}[w]
    return struct.pack('<II', w, len(vals)) + b''.join(struct.pack(fmt, v) for v in sorted(vals))
def zipmap(pairs):
    o = bytes([len(pairs)])
    for k, v in pairs:
        o += bytes([len(k)]) + k.encode() + bytes([len(v)]) + b'\x00' + v.encode()
    return o + b'\xff'
# Version 6, pre-7.0 encodings, checksum 0 (disabled).
r = b'REDIS0006' + b'\xfa' + s('redis-ver') + s('3.2.0') + b'\xfe\x00'
r += b'\x0a' + s('zl') + s(ziplist(['a', 'bb', 5, -100, 3000, 123456789012]))
r += b'\x0b' + s('is') + s(intset([1, 5, -7, 300]))
r += b'\x0b' + s('is4') + s(intset([1, 70000], 4))
r += b'\x0c' + s('zz') + s(ziplist(['m1', '1.5', 'm2', 3]))
r += b'\x0d' + s('hz') + s(ziplist(['f', 'v', 'n', 7]))
r += b'\x09' + s('zm') + s(zipmap([('f1', 'v1'), ('f2', 'value2')]))
r += b'\x03' + s('oldz') + ln(2) + s('a') + b'\x031.5' + s('b') + b'\xfe'
r += b'\x0e' + s('ql') + ln(1) + s(ziplist(['x', 'y', 9]))
r += b'\xfd' + struct.pack('<i', 2000000000) + b'\x00' + s('exp') + s('v')
r += b'\xfc' + struct.pack('<q', 4000000000000) + b'\x00' + s('pexp') + b'\xc0\x7b'
r += b'\x00' + s('int16') + b'\xc1\x39\x30'
r += b'\x00' + s('int32') + b'\xc2\x15\xcd\x5b\x07'
r += b'\xfe\x05\x02' + s('set') + ln(2) + s('a') + s('b')
r += b'\x04' + s('hash') + ln(1) + s('k') + s('v')
r += b'\xff' + b'\x00' * 8
open(out + '/v6-old-encodings.rdb', 'wb').write(r)
# Version 3: no checksum trailer.
open(out + '/v3-minimal.rdb', 'wb').write(b'REDIS0003\xfe\x00\x00' + s('k') + s('v') + b'\x01' + s('l') + ln(1) + s('e') + b'\xff')
# An LZF string: literal run "abcabc", then a back reference of 6 bytes at distance 6.
comp = bytes([5]) + b'abcabc' + bytes([4 << 5, 5])
open(out + '/v9-lzf.rdb', 'wb').write(b'REDIS0009\x00' + s('lz') + b'\xc3' + ln(len(comp)) + ln(12) + comp + b'\xff' + b'\x00' * 8)
EOF
ls -l "$OUT"
