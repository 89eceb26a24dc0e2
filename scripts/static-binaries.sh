#!/usr/bin/env bash
# Relink the two programs every `syscontainer exec` starts so that neither needs the dynamic
# loader (docs/performance/exec-and-hotadd.md, round four). Run after `cargo build --release`;
# both replace their dynamic builds in target/release.
#
# - syscontainer (the CLI): a static PIE against glibc (still position-independent, so ASLR
#   stays). `-z nodynamic-undefined-weak` keeps the linker from relocating undefined weak
#   symbols (crti's __gmon_start__) to the load address, which crashes a static PIE in _init.
# - syscontainer-exec-stage: linked against musl, whose start-up does not probe the CPU's
#   caches with CPUID (glibc does at every start, and CPUID traps to the hypervisor on a
#   virtual machine). Without the musl target (rustup offline), a static glibc build.
#
# Usage: scripts/static-binaries.sh [CARGO]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo=${1:-cargo}
musl=x86_64-unknown-linux-musl

$cargo rustc --locked --release -p syscontainer --bin syscontainer -- \
    -C target-feature=+crt-static -C link-arg=-Wl,-z,nodynamic-undefined-weak

if [ "$(uname -m)" = x86_64 ] && command -v rustup >/dev/null \
    && { rustup target list --installed | grep -qx "$musl" || rustup target add "$musl" >&2; }; then
    $cargo build --locked --release -p syscontainer-exec-stage --bin syscontainer-exec-stage --target "$musl"
    install -m 0755 "target/$musl/release/syscontainer-exec-stage" target/release/syscontainer-exec-stage
else
    echo "static-binaries: no $musl target; linking the exec stage statically against glibc" >&2
    $cargo rustc --locked --release -p syscontainer-exec-stage --bin syscontainer-exec-stage -- \
        -C target-feature=+crt-static
fi
