#!/usr/bin/env bash
# Build (once) and cache a bookworm VM image with systemd as PID 1 on pure cgroup v2:
# DEST/root.img (ext4), DEST/vmlinuz and DEST/initrd.img from Debian's cloud kernel.
# Usage: scripts/vm/mkimage.sh [DEST]   (default /var/cache/syscontainer/vm/bookworm)
# Rebuilt only when its inputs change: this script and the guest unit next to it.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
dest=${1:-/var/cache/syscontainer/vm/bookworm}
packages="systemd-sysv,udev,dbus,systemd-container,iproute2,procps,util-linux,lxcfs,fuse3,e2fsprogs,kmod,linux-image-cloud-amd64,initramfs-tools,busybox-static,containerd"
image_size=6G
inputs=$(cat "$0" "$here/sctest.service" | sha256sum | cut -d' ' -f1)
stamp="$dest/stamp"

if [ -f "$dest/root.img" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$inputs" ]; then
    exit 0
fi

for tool in mmdebstrap mkfs.ext4; do
    command -v "$tool" >/dev/null || {
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap e2fsprogs >/dev/null
    }
done

tmp="$dest.tmp.$$"
trap 'rm -rf "$tmp"' EXIT
rm -rf "$tmp"
mkdir -p "$tmp"
start=$(date +%s)
echo "building the bookworm VM image in $dest (a few minutes)" >&2
# The guest runs whatever scripts/vm/run.sh puts on its second disk (sctest.service);
# no getty on the serial console, whose output carries the test lines.
mmdebstrap --variant=minbase --include="$packages" \
    --customize-hook='echo sctest > "$1/etc/hostname"' \
    --customize-hook='printf "127.0.0.1 localhost\n127.0.1.1 sctest\n::1 localhost ip6-localhost ip6-loopback\n" > "$1/etc/hosts"' \
    --customize-hook='echo "# no network in the test VM" > "$1/etc/resolv.conf"' \
    --customize-hook=': > "$1/etc/machine-id"' \
    --customize-hook="cp '$here/sctest.service' \"\$1/etc/systemd/system/sctest.service\"" \
    --customize-hook='chroot "$1" systemctl enable sctest.service' \
    --customize-hook='chroot "$1" systemctl mask serial-getty@ttyS0.service getty@tty1.service systemd-timesyncd.service' \
    bookworm "$tmp/root"
kernel=$(ls "$tmp/root/boot" | sed -n 's/^vmlinuz-//p' | sort -V | tail -n1)
[ -n "$kernel" ] && [ -f "$tmp/root/boot/initrd.img-$kernel" ] || {
    echo "mkimage: no kernel and initrd in the image's /boot" >&2
    exit 1
}
cp "$tmp/root/boot/vmlinuz-$kernel" "$tmp/vmlinuz"
cp "$tmp/root/boot/initrd.img-$kernel" "$tmp/initrd.img"
echo "$kernel" > "$tmp/kernel-version"
mkfs.ext4 -q -L sctest-root -d "$tmp/root" "$tmp/root.img" "$image_size"
rm -rf "$tmp/root"
rm -rf "$dest"
mv "$tmp" "$dest"
trap - EXIT
echo "$inputs" > "$stamp"
echo "VM image built in $(($(date +%s) - start)) s (kernel $kernel)" >&2
