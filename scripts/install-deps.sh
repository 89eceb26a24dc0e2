#!/usr/bin/env bash
# Install what building, testing and the demo need, skipping what is already there.
# Usage: scripts/install-deps.sh [test|bench]   (bench adds the peers: LXC, nspawn, lxcfs)
set -euo pipefail

profile=${1:-test}
packages=(mmdebstrap iproute2 procps util-linux e2fsprogs kmod fuse3 lxcfs bridge-utils libseccomp-dev pkg-config)
packages+=(containernetworking-plugins iptables)  # CNI networking (--network NAME, -p): tests/tests/cni.rs
packages+=(busybox-static)  # tests/tests/oci.rs: the busybox bundle of syscontainer-oci
packages+=(g++) # fuzz/ (make fuzz, fuzz-smoke): libfuzzer-sys compiles libFuzzer
packages+=(containerd busybox-static protobuf-compiler) # tests/tests/containerd.rs: ctr, a busybox image, the k8s-cri crate's build
packages+=(musl-tools gperf curl) # scripts/static-binaries.sh (make release, test-release): libseccomp built for musl
if [ "$profile" = bench ]; then
    packages+=(lxc systemd-container)
fi

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The Debian lxcfs package starts its daemon on /var/lib/lxcfs; our tests and benchmarks
# start lxcfs 5.0.3 themselves on private mount points, and lxcfs-rs owns /var/lib/lxcfs.
if systemctl is-active --quiet lxcfs 2>/dev/null; then
    systemctl disable --now lxcfs >/dev/null 2>&1 || true
fi

if ! command -v cargo >/dev/null; then
    [ -x "$HOME/.cargo/bin/cargo" ] || {
        echo "installing the Rust toolchain with rustup" >&2
        curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal >/dev/null
    }
fi
