#!/usr/bin/env bash
# The VM lane: boot a bookworm VM (pure cgroup v2, systemd as PID 1) with the freshly built
# binaries, the `vm`-feature test executables and the test rootfs, run the tests inside and
# bring their output back. Exits non-zero when a test fails or the VM does not finish.
# Usage: scripts/vm/run.sh BIN_DIR ROOTFS [IMAGE_DIR] [LIBTEST_ARGS]
#   LIBTEST_ARGS: a test-name filter or `--skip NAME ...`, passed to every test executable.
# Env: VM_TIMEOUT (seconds, default 1200), VM_ACCEL (kvm|tcg, default: probe once per boot).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
bin_dir=$1
rootfs=$2
image=${3:-/var/cache/syscontainer/vm/bookworm}
filter=${4:-}
timeout=${VM_TIMEOUT:-1200}
binaries=(syscontainer syscontainer-exec-stage syscontainer-monitor syscontainer-oci syscontainer-hooks syscontainer-tools lxcfs-rs lxcfs-toolkit lxcfs-hook)
lane_start=$(date +%s)

command -v qemu-system-x86_64 >/dev/null || {
    echo "installing qemu-system-x86" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-system-x86 >/dev/null
}
bash "$here/mkimage.sh" "$image"

work=$(mktemp -d /var/tmp/syscontainer-vm.XXXXXX)
trap 'rm -rf "$work"' EXIT

# The test targets that need the `vm` feature (tests/Cargo.toml), and their executables from
# cargo's own report of what it built.
mapfile -t targets < <(awk '/^\[\[test\]\]/ { name = "" } /^name *=/ { gsub(/[" ]/, "", $0); sub(/^name=/, "", $0); name = $0 }
    /^required-features *=.*"vm"/ && name != "" { print name }' "$repo/tests/Cargo.toml")
[ ${#targets[@]} -gt 0 ] || { echo "vm: no vm-feature test target in tests/Cargo.toml" >&2; exit 1; }
(cd "$repo" && cargo test -p syscontainer-tests --features vm "${targets[@]/#/--test=}" --locked \
    --no-run --message-format=json-render-diagnostics) > "$work/cargo.json"
mapfile -t executables < <(grep -o '"executable":"[^"]*"' "$work/cargo.json" |
    sed 's/^"executable":"//; s/"$//')
[ ${#executables[@]} -gt 0 ] || { echo "vm: cargo built no test executable" >&2; exit 1; }

stage="$work/stage"
mkdir -p "$stage/bin" "$stage/tests" "$work/results"
for b in "${binaries[@]}"; do
    if [ -x "$bin_dir/$b" ]; then cp "$bin_dir/$b" "$stage/bin/"; fi
done
for e in "${executables[@]}"; do
    cp "$e" "$stage/tests/$(basename "$e" | sed 's/-[0-9a-f]*$//')"
done
cp -a --reflink=auto "$rootfs" "$stage/rootfs"
cp "$here/run-tests.sh" "$stage/run-tests.sh"
# What `make install` installs besides the binaries, for the tests of the shipped units.
mkdir -p "$stage/repo"
cp -r "$repo/systemd" "$repo/etc" "$stage/repo/"
printf '%s\n' "$filter" > "$stage/filter"
size_mb=$(($(du -sm "$stage" | cut -f1) * 5 / 4 + 64))
mkfs.ext4 -q -L sctest-data -d "$stage" "$work/data.img" "${size_mb}M"
rm -rf "$stage"
truncate -s 64M "$work/results.img"

# /dev/kvm may be a nested host that hangs stock kernels: probe once per host boot.
accel=${VM_ACCEL:-}
if [ -z "$accel" ]; then
    probe="$image/../kvm-probe.$(cat /proc/sys/kernel/random/boot_id)"
    if [ ! -f "$probe" ]; then
        result=tcg
        if [ -w /dev/kvm ]; then
            timeout -k 5 30 qemu-system-x86_64 -accel kvm -cpu host -m 512 -nographic -no-reboot \
                -nic none -kernel "$image/vmlinuz" -append "console=ttyS0 panic=-1 root=/dev/nonexistent" \
                </dev/null >"$work/kvm-probe.log" 2>&1 || true
            if grep -q "Kernel panic" "$work/kvm-probe.log"; then result=kvm; fi
        fi
        echo "$result" > "$probe"
    fi
    accel=$(cat "$probe")
fi
cpu=max
[ "$accel" = kvm ] && cpu=host

# No -no-reboot: tests may reboot the guest (run-tests.sh), and the snapshot of the root disk
# lives until QEMU exits. A guest that reboots more than once is reported by run-tests.sh;
# a kernel that panics on every boot (panic=-1 reboots) ends at the timeout.
echo "vm: booting ($accel, timeout ${timeout} s)" >&2
vm_start=$(date +%s)
set +e
timeout -k 10 "$timeout" qemu-system-x86_64 -accel "$accel" -cpu "$cpu" -smp 2 -m 3072 \
    -nographic -nic none \
    -kernel "$image/vmlinuz" -initrd "$image/initrd.img" \
    -append "console=ttyS0 root=/dev/vda rw panic=-1 quiet systemd.unified_cgroup_hierarchy=1" \
    -drive "file=$image/root.img,format=raw,if=virtio,snapshot=on" \
    -drive "file=$work/data.img,format=raw,if=virtio,readonly=on" \
    -drive "file=$work/results.img,format=raw,if=virtio" \
    </dev/null 2>&1 | tee "$work/console.log" | tr -d '\r'
qemu_status=${PIPESTATUS[0]}
set -e
vm_seconds=$(($(date +%s) - vm_start))

tar -C "$work/results" -xf "$work/results.img" 2>/dev/null || true
failed=0
echo "---- vm lane summary ----"
if [ "$qemu_status" -eq 124 ] || [ "$qemu_status" -eq 137 ]; then
    echo "vm: timed out after $timeout s" >&2
    failed=1
fi
for e in "${executables[@]}"; do
    name=$(basename "$e" | sed 's/-[0-9a-f]*$//')
    if [ ! -f "$work/results/$name.rc" ]; then
        echo "$name: no result from the VM"
        failed=1
    fi
done
# Every result, also the after-reboot phases (NAME.after-reboot) and an unexpected boot.
for rc in "$work"/results/*.rc; do
    [ -f "$rc" ] || continue
    name=$(basename "$rc" .rc)
    echo "$name: $(grep '^test result:' "$work/results/$name.log" || echo 'no test result line')"
    [ "$(cat "$rc")" = 0 ] || failed=1
done
echo "vm: $accel, VM ran ${vm_seconds} s, lane $(($(date +%s) - lane_start)) s"
if [ "$failed" -ne 0 ]; then
    mkdir -p "$repo/target/vm"
    cp "$work/console.log" "$repo/target/vm/console.log"
    echo "vm lane FAILED; console: target/vm/console.log" >&2
    exit 1
fi
