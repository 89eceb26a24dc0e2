#!/usr/bin/env bash
# Relink the two programs every `syscontainer exec` starts so that neither runs the dynamic
# loader nor glibc's start-up (docs/performance/exec-and-hotadd.md, round four). Run after
# `cargo build --release`; both replace their dynamic builds in target/release.
#
# - syscontainer-exec-stage: linked against musl, whose start-up does not walk CPUID to size
#   the caches (glibc does at every start, and CPUID traps to the hypervisor on a virtual
#   machine).
# - syscontainer (the CLI): also against musl, with a static libseccomp built for musl from
#   Debian's source of the same version (2.5.4, checked by SHA-256) into target/. Both are
#   static PIEs, so ASLR stays.
#
# Each falls back to a static glibc build when the musl tool chain is missing (no musl-gcc,
# rustup offline, no source): the CLI then as a static PIE with `-z nodynamic-undefined-weak`,
# which keeps the linker from relocating the undefined weak `__gmon_start__` (called by
# crti's `_init` when non-zero) to the load address.
#
# Usage: scripts/static-binaries.sh [CARGO]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo=${1:-cargo}
musl=x86_64-unknown-linux-musl
seccomp_version=2.5.4
seccomp_sha256=d82902400405cf0068574ef3dc1fe5f5926207543ba1ae6f8e7a1576351dcbdb
seccomp_url=http://deb.debian.org/debian/pool/main/libs/libseccomp/libseccomp_${seccomp_version}.orig.tar.gz
seccomp_dir=$PWD/target/musl-libseccomp-$seccomp_version

say() { echo "static-binaries: $*" >&2; }

have_musl_target() {
    [ "$(uname -m)" = x86_64 ] && command -v rustup >/dev/null || return 1
    rustup target list --installed | grep -qx "$musl" || rustup target add "$musl" >&2
}

# libseccomp.a for musl, and the .pc file the libseccomp crate's build script checks the
# version with, in $seccomp_dir/lib.
build_musl_libseccomp() {
    [ -f "$seccomp_dir/lib/libseccomp.a" ] && [ -f "$seccomp_dir/lib/pkgconfig/libseccomp.pc" ] && return 0
    command -v musl-gcc >/dev/null && command -v gperf >/dev/null || {
        say "musl-gcc or gperf missing (Debian: musl-tools, gperf)"
        return 1
    }
    local work
    work=$(mktemp -d)
    trap 'rm -rf "$work"' RETURN
    curl -sSf -o "$work/src.tar.gz" "$seccomp_url" || { say "cannot fetch $seccomp_url"; return 1; }
    echo "$seccomp_sha256  $work/src.tar.gz" | sha256sum -c --quiet - || {
        say "$seccomp_url: checksum mismatch"
        return 1
    }
    tar -xzf "$work/src.tar.gz" -C "$work"
    local src=$work/libseccomp-$seccomp_version
    # musl-gcc keeps glibc's headers out; the kernel's (linux/seccomp.h, asm/) come after musl's.
    (cd "$src" &&
        CC=musl-gcc CFLAGS="-O2 -fPIE -idirafter /usr/include -idirafter /usr/include/$(uname -m)-linux-gnu" \
            ./configure --enable-static --disable-shared --prefix="$seccomp_dir" >"$work/log" 2>&1 &&
        make -j"$(nproc)" -C src >>"$work/log" 2>&1 &&
        make -C src install >>"$work/log" 2>&1) || {
        say "building libseccomp for musl failed:"
        tail -5 "$work/log" >&2
        return 1
    }
    mkdir -p "$seccomp_dir/lib/pkgconfig"
    install -m 0644 "$src/libseccomp.pc" "$seccomp_dir/lib/pkgconfig/"
}

if have_musl_target; then
    $cargo build --locked --release -p syscontainer-exec-stage --bin syscontainer-exec-stage --target "$musl"
    install -m 0755 "target/$musl/release/syscontainer-exec-stage" target/release/syscontainer-exec-stage
else
    say "no $musl target; linking the exec stage statically against glibc"
    $cargo rustc --locked --release -p syscontainer-exec-stage --bin syscontainer-exec-stage -- \
        -C target-feature=+crt-static
fi

if have_musl_target && build_musl_libseccomp; then
    # PKG_CONFIG_LIBDIR for the target only: the host's libseccomp.pc must not put glibc's
    # library directory on the musl link line.
    env "PKG_CONFIG_LIBDIR_$musl=$seccomp_dir/lib/pkgconfig" \
        LIBSECCOMP_LINK_TYPE=static LIBSECCOMP_LIB_PATH="$seccomp_dir/lib" \
        $cargo build --locked --release -p syscontainer --bin syscontainer --target "$musl"
    install -m 0755 "target/$musl/release/syscontainer" target/release/syscontainer
else
    say "linking the CLI statically against glibc instead"
    $cargo rustc --locked --release -p syscontainer --bin syscontainer -- \
        -C target-feature=+crt-static -C link-arg=-Wl,-z,nodynamic-undefined-weak
fi
