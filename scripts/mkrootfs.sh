#!/usr/bin/env bash
# Build (once) and cache a Debian bookworm rootfs with systemd as init.
# Usage: scripts/mkrootfs.sh [DEST]   (default /var/cache/syscontainer/rootfs/bookworm)
# The tree is rebuilt only when the package list below changes.
set -euo pipefail

dest=${1:-/var/cache/syscontainer/rootfs/bookworm}
packages="systemd-sysv,dbus,iproute2,procps,util-linux,iputils-ping,e2fsprogs,kmod"
stamp="$dest.stamp"

if [ -x "$dest/sbin/init" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$packages" ]; then
    exit 0
fi

command -v mmdebstrap >/dev/null || {
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >/dev/null
}

tmp="$dest.tmp.$$"
trap 'rm -rf "$tmp"' EXIT
rm -rf "$tmp"
mkdir -p "$(dirname "$dest")"
echo "building bookworm rootfs in $dest (about a minute)" >&2
mmdebstrap --quiet --variant=minbase --include="$packages" bookworm "$tmp"
# Fixed machine-id-less image: systemd creates a transient one per boot.
: > "$tmp/etc/machine-id"
rm -rf "$dest"
mv "$tmp" "$dest"
trap - EXIT
echo "$packages" > "$stamp"
