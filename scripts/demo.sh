#!/usr/bin/env bash
# Boot the cached Debian rootfs as a system container with systemd as PID 1, show it
# running, then stop and remove it. The rootfs copy is an overlay over the cache, so the
# cache stays pristine. Usage: scripts/demo.sh BIN_DIR ROOTFS
set -euo pipefail

bin_dir=${1:?bin dir}
cache=${2:?rootfs cache}
sc() { "$bin_dir/syscontainer" --root "$work/store" "$@"; }
step() { printf '\n\033[1m$ syscontainer %s\033[0m\n' "$*"; }

work=$(mktemp -d /tmp/syscontainer-demo.XXXXXX)
name=demo-$$
cleanup() {
    sc rm -f "$name" >/dev/null 2>&1 || true
    umount "$work/rootfs" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work"/{upper,work,rootfs,store}
mount -t overlay overlay -o "lowerdir=$cache,upperdir=$work/upper,workdir=$work/work" "$work/rootfs"

step run -tid --name "$name" -m 512M --cpus 1 --system-container --external-rootfs "$work/rootfs" none init
start=$(date +%s.%N)
sc run -tid --name "$name" -m 512M --cpus 1 --system-container --external-rootfs "$work/rootfs" none init
for _ in $(seq 600); do
    state=$(sc exec "$name" systemctl is-system-running --wait 2>/dev/null || true)
    case $state in running|degraded) break ;; esac
    sleep 0.1
done
awk -v s="$start" -v e="$(date +%s.%N)" -v st="$state" 'BEGIN { printf "systemd reports \"%s\" after %.2f s\n", st, e - s }'

step ps; sc ps
step inspect -f '{{.State.Pid}} {{.State.Status}}' "$name"; sc inspect -f '{{.State.Pid}} {{.State.Status}}' "$name"
step exec "$name" ps -ef; sc exec "$name" ps -ef
step exec "$name" cat /sys/fs/cgroup/memory/memory.limit_in_bytes
sc exec "$name" cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || sc exec "$name" cat /sys/fs/cgroup/memory.max
step stop "$name"; sc stop "$name"
step inspect -f '{{json .State}}' "$name"; sc inspect -f '{{json .State}}' "$name"
step rm "$name"; sc rm "$name"
[ "$state" = running ] || [ "$state" = degraded ] || { echo "demo failed: systemd state $state" >&2; exit 1; }
echo; echo "demo finished: the container booted systemd, answered, halted and was removed"
