#!/usr/bin/env bash
# Build the replog Docker image from local pieces only (no registry needed).
#
#   docker/build-image.sh [--no-cargo] [--force]
#
# 1. cargo build --release --bin replog              (skipped with --no-cargo)
# 2. base image $REPLOG_BASE_IMAGE (default replog-base:local): a tiny root
#    filesystem holding exactly the shared libraries `ldd` lists for the
#    binary, /etc/passwd, /etc/group, /etc/nsswitch.conf and /tmp, made with
#    `tar | docker import`. Rebuilt only when those libraries change.
# 3. image $REPLOG_IMAGE (default replog:local) from the repository's
#    Dockerfile, target `prebuilt`, on that base. Skipped when the image
#    already holds the same binary, base and Dockerfile.
#
# Environment:
#   REPLOG_IMAGE          image to produce                 (replog:local)
#   REPLOG_BASE_IMAGE     generated base image name        (replog-base:local)
#   REPLOG_RUNTIME_IMAGE  use this existing local image as the base instead of
#                         generating one (e.g. debian:bookworm-slim if you have
#                         it, or a debootstrap import)
#   REPLOG_BINARY         use this binary instead of target/release/replog
#                         (implies --no-cargo)
#   CARGO                 cargo command                    (cargo)
#   CARGO_TARGET_DIR      where cargo puts the binary      (target)
#   DOCKER_BUILDKIT       default 0: the legacy builder takes local base
#                         images as they are
set -euo pipefail

die() { echo "build-image: error: $*" >&2; exit 1; }
log() { echo "build-image: $*" >&2; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
image=${REPLOG_IMAGE:-replog:local}
base_image=${REPLOG_BASE_IMAGE:-replog-base:local}
runtime_image=${REPLOG_RUNTIME_IMAGE:-}
old_base_id=
binary=${REPLOG_BINARY:-}
cargo_cmd=${CARGO:-cargo}
run_cargo=1
force=0

while [ $# -gt 0 ]; do
    case "$1" in
        --no-cargo) run_cargo=0 ;;
        --force) force=1 ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument: $1 (try --help)" ;;
    esac
    shift
done

command -v docker >/dev/null 2>&1 || die "docker not found in PATH"
docker info >/dev/null 2>&1 || die "cannot talk to the Docker daemon (is it running? permissions?)"
command -v sha256sum >/dev/null 2>&1 || die "sha256sum not found"

# --- 1. the binary ---------------------------------------------------------
if [ -n "$binary" ]; then
    run_cargo=0
else
    target_dir=${CARGO_TARGET_DIR:-target}
    case "$target_dir" in /*) ;; *) target_dir=$repo/$target_dir ;; esac
    binary=$target_dir/release/replog
fi
if [ "$run_cargo" = 1 ]; then
    log "cargo build --release --bin replog"
    (cd "$repo" && $cargo_cmd build --release --bin replog) || die "cargo build failed"
fi
[ -x "$binary" ] || die "binary $binary not found or not executable (run cargo build --release --bin replog)"

# The image contains only what the binary itself needs.
label_of() { # image label -> value or empty
    docker image inspect -f "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true
}

# --- 2. the base image -----------------------------------------------------
if [ -n "$runtime_image" ]; then
    docker image inspect "$runtime_image" >/dev/null 2>&1 \
        || die "REPLOG_RUNTIME_IMAGE=$runtime_image is not a local image"
    base_image=$runtime_image
    log "using existing base image $base_image"
else
    command -v ldd >/dev/null 2>&1 || die "ldd not found (install libc-bin)"
    ldd_out=$(ldd "$binary" 2>&1) || true
    if grep -q 'not found' <<<"$ldd_out"; then
        die "binary has unresolved libraries:
$ldd_out"
    fi
    # Absolute paths of every library, including the dynamic loader.
    mapfile -t libs < <(grep -oE '/[^ ]+' <<<"$ldd_out" | sort -u)
    if [ ${#libs[@]} -eq 0 ]; then
        # Statically linked: nothing to copy.
        grep -qE 'statically linked|not a dynamic executable' <<<"$ldd_out" \
            || die "unexpected ldd output:
$ldd_out"
    fi
    base_key=$( {
        echo "replog-base v1"
        for lib in "${libs[@]}"; do echo "$lib $(sha256sum <"$lib" | cut -d' ' -f1)"; done
    } | sha256sum | cut -d' ' -f1)
    if [ "$force" = 0 ] && [ "$(label_of "$base_image" replog.base.key)" = "$base_key" ]; then
        log "base image $base_image is up to date"
    else
        log "assembling base image $base_image (${#libs[@]} libraries)"
        old_base_id=$(docker image inspect -f '{{.Id}}' "$base_image" 2>/dev/null || true)
        rootfs=$(mktemp -d "${TMPDIR:-/tmp}/replog-rootfs.XXXXXX")
        trap 'rm -rf "$rootfs"' EXIT
        mkdir -p "$rootfs"/{etc,tmp,usr/local/bin}
        chmod 1777 "$rootfs/tmp"
        for lib in "${libs[@]}"; do
            mkdir -p "$rootfs$(dirname "$lib")"
            cp -L "$lib" "$rootfs$lib"
        done
        cat >"$rootfs/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/usr/sbin/nologin
replog:x:10001:10001:replog:/nonexistent:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
EOF
        cat >"$rootfs/etc/group" <<'EOF'
root:x:0:
replog:x:10001:
nogroup:x:65534:
EOF
        # glibc >= 2.34 has the files and dns NSS modules built in.
        printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$rootfs/etc/nsswitch.conf"
        tar --numeric-owner --owner=0 --group=0 -C "$rootfs" -c . \
            | docker import \
                --change "LABEL replog.base.key=$base_key" \
                --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
                - "$base_image" >/dev/null \
            || die "docker import of the base image failed"
        rm -rf "$rootfs"
        trap - EXIT
    fi
fi

# --- 3. the image ----------------------------------------------------------
base_id=$(docker image inspect -f '{{.Id}}' "$base_image")
build_key=$( {
    echo "replog-image v1"
    sha256sum <"$binary"
    echo "$base_id"
    sha256sum <"$repo/Dockerfile"
    sha256sum <"$repo/docker/data/README.md"
} | sha256sum | cut -d' ' -f1)
if [ "$force" = 0 ] && [ "$(label_of "$image" replog.build.key)" = "$build_key" ]; then
    log "image $image is up to date"
    exit 0
fi

old_id=$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)

# A context of just the binary: fast, and independent of .dockerignore.
ctx=$(mktemp -d "${TMPDIR:-/tmp}/replog-ctx.XXXXXX")
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/target/release"
cp "$binary" "$ctx/target/release/replog"
# The data directory's mount point (the Dockerfile copies it to /data).
mkdir -p "$ctx/docker"
cp -R "$repo/docker/data" "$ctx/docker/data"
log "docker build --target prebuilt -t $image (base $base_image)"
# The legacy builder uses local base images as they are; BuildKit may try to
# resolve them in a registry. Respect an explicit DOCKER_BUILDKIT.
build_log=$ctx/build.log
if ! DOCKER_BUILDKIT=${DOCKER_BUILDKIT:-0} docker build \
    -f "$repo/Dockerfile" \
    --target prebuilt \
    --build-arg "RUNTIME_IMAGE=$base_image" \
    --label "replog.build.key=$build_key" \
    -t "$image" \
    "$ctx" >"$build_log" 2>&1; then
    cat "$build_log" >&2
    die "docker build failed"
fi

# Smoke test: the binary starts inside the image (loader and libraries work).
docker run --rm "$image" --help >/dev/null 2>&1 \
    || die "image $image built but '$image --help' does not run; check the base image's libraries"
# Drop the images this build replaces, unless something still uses them.
new_id=$(docker image inspect -f '{{.Id}}' "$image")
for old in "$old_id" "$old_base_id"; do
    if [ -n "$old" ] && [ "$old" != "$new_id" ] && [ "$old" != "$base_id" ]; then
        docker rmi "$old" >/dev/null 2>&1 || true
    fi
done
log "built $image"
