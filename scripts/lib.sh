# shellcheck shell=bash
# shellcheck disable=SC2034 # FC_LAST_* / FC_EXTRA_ARGS are outputs read by the sourcing script
# Shared helpers for scripts/interop and scripts/bench. Source it, don't run it.
#
# Environment overrides understood by the helpers:
#   FC_SERVER_BIN   server binary to test instead of target/release/ferrocache-server
#                   (e.g. FC_SERVER_BIN=$(command -v redis-server) to dry-run the
#                   scripts against stock Redis).
#   FC_SERVER_ARGS  extra whitespace-separated arguments for that server.
#   FC_REBUILD=1    run `cargo build --release` even if the binary already exists.

FC_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export FC_ROOT

# Scratch directory for logs and server working dirs; removed on exit by fc_cleanup.
FC_TMP="$(mktemp -d "${TMPDIR:-/tmp}/ferrocache-scripts.XXXXXX")"
FC_PIDS=()          # servers started by fc_start_server
FC_LAST_PID=""      # set by fc_start_server
FC_LAST_PORT=""     # set by fc_start_server
FC_LAST_LOG=""      # set by fc_start_server

fc_section() { printf '\n==== %s ====\n' "$*"; }
fc_info() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }
fc_die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

# Run a command as root (directly, or through sudo when available).
fc_as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -n "$@"
    else
        fc_die "need root to run: $*"
    fi
}

# fc_apt_install PKG... : install Debian packages, running `apt-get update`
# only when the first attempt fails (e.g. empty package lists on a fresh box).
fc_apt_install() {
    command -v apt-get >/dev/null 2>&1 || fc_die "apt-get not available; install $* manually"
    fc_info "apt-get install $*"
    export DEBIAN_FRONTEND=noninteractive
    if ! fc_as_root apt-get install -y -q --no-install-recommends "$@" </dev/null; then
        fc_info "install failed; running apt-get update and retrying"
        fc_as_root apt-get update -q </dev/null
        fc_as_root apt-get install -y -q --no-install-recommends "$@" </dev/null
    fi
}

# redis-cli, redis-benchmark, redis-check-rdb (Debian 12: package redis-tools).
fc_ensure_redis_tools() {
    local t
    for t in redis-cli redis-benchmark redis-check-rdb; do
        if ! command -v "$t" >/dev/null 2>&1; then
            fc_apt_install redis-tools
            break
        fi
    done
    for t in redis-cli redis-benchmark redis-check-rdb; do
        command -v "$t" >/dev/null 2>&1 || fc_die "$t still missing"
    done
}

# Stock redis-server (scripts/bench, scripts/interop; the integration tests run this and
# fc_ensure_redis_tools through tests/common/mod.rs's ensure_stock_redis).
fc_ensure_redis_server() {
    command -v redis-server >/dev/null 2>&1 || fc_apt_install redis-server
    command -v redis-server >/dev/null 2>&1 || fc_die "redis-server still missing"
}

# Stock redis-sentinel (interop and the failover drill compare against it; the config
# tests load the /etc/redis/sentinel.conf it installs).
fc_ensure_redis_sentinel() {
    command -v redis-sentinel >/dev/null 2>&1 || fc_apt_install redis-sentinel
    command -v redis-sentinel >/dev/null 2>&1 || fc_die "redis-sentinel still missing"
}

fc_python() {
    if command -v python3 >/dev/null 2>&1; then
        command -v python3
    elif [ -x /usr/bin/python3 ]; then
        echo /usr/bin/python3
    else
        fc_die "python3 not found"
    fi
}

# Resolve the server under test into FC_BIN (absolute path); build it if needed.
fc_resolve_server_bin() {
    if [ -n "${FC_SERVER_BIN:-}" ]; then
        FC_BIN="$(command -v "$FC_SERVER_BIN" || true)"
        if [ -z "$FC_BIN" ] || [ ! -x "$FC_BIN" ]; then
            fc_die "FC_SERVER_BIN=$FC_SERVER_BIN is not an executable"
        fi
        FC_BIN="$(cd "$(dirname "$FC_BIN")" && pwd)/$(basename "$FC_BIN")"
        fc_info "server under test (FC_SERVER_BIN override): $FC_BIN"
    else
        FC_BIN="$FC_ROOT/target/release/ferrocache-server"
        if [ ! -x "$FC_BIN" ] || [ "${FC_REBUILD:-0}" = 1 ]; then
            fc_info "building release binary (cargo build --release)"
            (cd "$FC_ROOT" && cargo build --release)
        fi
        [ -x "$FC_BIN" ] || fc_die "$FC_BIN missing after cargo build --release"
        fc_info "server under test: $FC_BIN (built $(date -r "$FC_BIN" '+%F %T'))"
    fi
    export FC_BIN
}

# Print a currently-free loopback TCP port chosen by the kernel.
fc_free_port() {
    "$(fc_python)" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# fc_ping PORT -> succeeds if the server on PORT answers PONG.
fc_ping() {
    [ "$(timeout 2 redis-cli -h 127.0.0.1 -p "$1" PING 2>/dev/null)" = PONG ]
}

# fc_start_server NAME BIN [PREFIX_CMD...] -- [EXTRA_ARGS...]
#   Starts BIN --port <free> --bind 127.0.0.1 --save "" --repl-diskless-sync-delay 0 EXTRA_ARGS..., optionally
#   prefixed by PREFIX_CMD (e.g. taskset -c 1), in its own scratch dir, logging to
#   $FC_TMP/NAME.log. Waits (bounded, 15 s) for PING. Retries with a new port if
#   the server dies early (port race). Sets FC_LAST_PID / FC_LAST_PORT / FC_LAST_LOG.
fc_start_server() {
    local name="$1" bin="$2"
    shift 2
    local prefix=() extra=()
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do prefix+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    extra=("$@")
    local dir="$FC_TMP/$name"
    mkdir -p "$dir"
    local attempt port pid log="$FC_TMP/$name.log" deadline
    for attempt in 1 2 3; do
        port="$(fc_free_port)"
        fc_info "starting $name: ${prefix[*]:+${prefix[*]} }$bin --port $port --bind 127.0.0.1 --save '' --repl-diskless-sync-delay 0 ${extra[*]:-} (attempt $attempt)"
        ( cd "$dir" && exec "${prefix[@]}" "$bin" --port "$port" --bind 127.0.0.1 --save "" --repl-diskless-sync-delay 0 "${extra[@]}" ) \
            >"$log" 2>&1 </dev/null &
        pid=$!
        FC_PIDS+=("$pid")
        deadline=$((SECONDS + 15))
        while [ "$SECONDS" -lt "$deadline" ]; do
            if ! kill -0 "$pid" 2>/dev/null; then
                break
            fi
            if fc_ping "$port"; then
                FC_LAST_PID="$pid" FC_LAST_PORT="$port" FC_LAST_LOG="$log"
                fc_info "$name is up: pid $pid, port $port"
                return 0
            fi
            sleep 0.1
        done
        fc_info "$name did not answer PING on port $port; log tail:"
        tail -n 20 "$log" | sed 's/^/    | /'
        fc_stop_pid "$pid"
    done
    fc_die "could not start $name"
}

# fc_stop_pid PID: SIGTERM, wait up to 5 s, then SIGKILL.
fc_stop_pid() {
    local pid="$1" _
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        fc_info "pid $pid ignored SIGTERM for 5 s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

fc_cleanup() {
    local pid
    for pid in "${FC_PIDS[@]}"; do
        fc_stop_pid "$pid"
    done
    FC_PIDS=()
    if [ "${FC_KEEP_TMP:-0}" = 1 ]; then
        fc_info "keeping scratch dir $FC_TMP"
    else
        rm -rf "$FC_TMP"
    fi
}

# Install the exit trap. Signals turn into an exit so the EXIT trap runs once.
fc_install_trap() {
    trap fc_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# Extra server args from FC_SERVER_ARGS (word-split on purpose).
fc_extra_args() {
    FC_EXTRA_ARGS=()
    if [ -n "${FC_SERVER_ARGS:-}" ]; then
        read -r -a FC_EXTRA_ARGS <<<"$FC_SERVER_ARGS"
    fi
}
