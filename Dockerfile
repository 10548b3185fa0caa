# syntax=docker/dockerfile:1
#
# Ferrocache container image.
#
#   docker build -t ferrocache .
#   docker run --rm -p 6379:6379 ferrocache
#   redis-cli -p 6379 PING
#
# NOTE: this file has not been built on the development/CI machine, which has no
# Docker engine; keep it simple and check it on a machine with Docker (BuildKit,
# the default builder since Docker 23, is needed for the cache mounts).

# ---- build stage ---------------------------------------------------------------
FROM rust:1-bookworm AS builder
WORKDIR /src
COPY . .
# Cache mounts keep the crates.io registry and the target dir between builds; the
# binary is copied out of the cached target dir so the next stage can see it.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin ferrocache-server \
    && install -D -m 0755 target/release/ferrocache-server /out/ferrocache-server

# ---- runtime stage -------------------------------------------------------------
FROM debian:bookworm-slim
RUN groupadd --system ferrocache \
    && useradd --system --gid ferrocache --home-dir /data --shell /usr/sbin/nologin ferrocache \
    && mkdir -p /data \
    && chown ferrocache:ferrocache /data
COPY --from=builder /out/ferrocache-server /usr/local/bin/ferrocache-server
USER ferrocache
WORKDIR /data
EXPOSE 6379
# Listen on all interfaces inside the container; the port is only reachable from
# outside when published with -p. Extra redis-server style flags can be given by
# overriding the command, e.g. `docker run ferrocache ferrocache-server --port 7000`.
CMD ["ferrocache-server", "--bind", "0.0.0.0", "--protected-mode", "no"]
