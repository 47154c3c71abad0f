# replog: one image for both roles (primary / secondary).
#
# The role is the command, everything else comes from REPLOG_* env vars:
#   docker run -e REPLOG_ID=s1 replog node secondary
#   docker run -e REPLOG_ID=p -e REPLOG_SECONDARIES=s1=http://s1:7000 replog node primary
#
# Two ways to build the same image:
#
# 1. With a registry (default target `runtime`): compiles from source in a
#    rust builder stage, runs on debian-slim.
#      docker build -t replog:local .
#
# 2. Without a registry (target `prebuilt`): copies a binary you built on the
#    host (cargo build --release --bin replog) onto any local base image that
#    has the binary's shared libraries (glibc family). docker/build-image.sh
#    does this with a base image it assembles from the host's libraries:
#      docker/build-image.sh
#    or by hand, with any local Debian bookworm image:
#      docker build --target prebuilt --build-arg RUNTIME_IMAGE=my-bookworm -t replog:local .
#
# Stage order matters: the legacy (non-BuildKit) builder builds every stage up
# to --target, so `prebuilt` comes first and must not depend on the builder.
# No BuildKit-only syntax is used, so both builders work.

ARG RUST_IMAGE=docker.io/library/rust:1-bookworm
ARG RUNTIME_IMAGE=docker.io/library/debian:bookworm-slim

# ---------------------------------------------------------------------------
# Target `prebuilt`: host-built binary on a local base image.
FROM ${RUNTIME_IMAGE} AS prebuilt
ARG REPLOG_BINARY=target/release/replog
COPY ${REPLOG_BINARY} /usr/local/bin/replog
# The data directory's mount point, owned by the node user: a named volume
# mounted here starts with this ownership (see docker/data/README.md).
COPY --chown=10001:10001 docker/data /data
ENV REPLOG_LISTEN=0.0.0.0:7000 \
    RUST_LOG=info
# Numeric uid:gid so that no `useradd` (and no shell) is needed in the base.
USER 10001:10001
EXPOSE 7000
HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/replog", "health", "--json", "--primary", "http://127.0.0.1:7000"]
ENTRYPOINT ["/usr/local/bin/replog"]
CMD ["--help"]

# ---------------------------------------------------------------------------
# Builder: compile the release binary from source.
FROM ${RUST_IMAGE} AS builder
WORKDIR /src
# .dockerignore keeps target/ (except the prebuilt binary) and .git out.
COPY . .
RUN cargo build --release --locked --bin replog \
    && ./target/release/replog --help > /dev/null

# ---------------------------------------------------------------------------
# Target `runtime` (default): the binary from the builder on debian-slim.
FROM ${RUNTIME_IMAGE} AS runtime
COPY --from=builder /src/target/release/replog /usr/local/bin/replog
COPY --chown=10001:10001 docker/data /data
ENV REPLOG_LISTEN=0.0.0.0:7000 \
    RUST_LOG=info
USER 10001:10001
EXPOSE 7000
HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/replog", "health", "--json", "--primary", "http://127.0.0.1:7000"]
ENTRYPOINT ["/usr/local/bin/replog"]
CMD ["--help"]
