#!/bin/sh
# Runs inside the VM (started by sctest.service from the per-run disk at /mnt/sc): waits
# for the boot to finish, runs every test executable in /mnt/sc/tests, writes their output
# and exit codes as a tar to the results disk (/dev/vdc) and powers the VM off.
#
# Reboots: a test that must see a reboot appends "EXECUTABLE TEST" to $SCTEST_REBOOT_REQUESTS
# and passes. After the last executable the runner reboots the VM (the root disk is a QEMU
# snapshot, which lives as long as the QEMU process: the state under /var/lib/sctest survives
# the guest's reboot) and, at the next boot, runs each requested test again alone with
# SCTEST_PHASE=after-reboot; its output is EXECUTABLE.after-reboot.{log,rc}.
set -u
disk=/mnt/sc
state=/var/lib/sctest
results=$state/results
requests=$state/reboot-requests
mkdir -p "$results"
boot=$(($(cat "$state/boots" 2>/dev/null || echo 0) + 1))
echo "$boot" > "$state/boots"

system=$(systemctl is-system-running --wait)
echo "SCVM boot $boot: $system after $(cut -d' ' -f1 /proc/uptime) s, kernel $(uname -r)"
[ "$system" = running ] || systemctl --failed --no-legend
echo "SCVM cgroup2 root controllers: $(cat /sys/fs/cgroup/cgroup.subtree_control)"

# The harness puts each test's containers below the test's own cgroup; from the root
# cgroup they land where the default parent (/syscontainer) puts them too, and not below
# this service's cgroup, where v2's no-internal-process rule would refuse controllers.
echo $$ > /sys/fs/cgroup/cgroup.procs

export SYSCONTAINER_BIN_DIR="$disk/bin" SYSCONTAINER_TEST_ROOTFS="$disk/rootfs"
export SYSCONTAINER_REPO="$disk/repo" SCTEST_REBOOT_REQUESTS="$requests"
export PATH="$disk/bin:$PATH" RUST_BACKTRACE=1
filter=$(cat "$disk/filter")
cd /tmp

# run_test NAME EXECUTABLE ARGS...: output to $results/NAME.log, exit code to NAME.rc.
run_test() {
    name=$1
    shift
    echo "SCVM running $name $*"
    start=$(cut -d' ' -f1 /proc/uptime)
    { "$@" </dev/null 2>&1; echo $? > "$results/$name.rc"; } | tee "$results/$name.log"
    echo "SCVM $name exit $(cat "$results/$name.rc") after $(echo "$(cut -d' ' -f1 /proc/uptime) $start" | awk '{print $1 - $2}') s"
}

finish() {
    cut -d' ' -f1 /proc/uptime >> "$results/uptime"
    tar -C "$results" -cf /dev/vdc .
    sync
    echo "SCVM done"
    systemctl poweroff -f
    exit 0
}

if [ "$boot" -eq 1 ]; then
    for test in "$disk"/tests/*; do
        # shellcheck disable=SC2086 # the filter is libtest arguments, split on purpose
        run_test "$(basename "$test")" "$test" --test-threads 2 $filter
    done
    if [ -s "$requests" ]; then
        cut -d' ' -f1 /proc/uptime >> "$results/uptime"
        echo "SCVM rebooting for: $(tr '\n' ';' < "$requests")"
        sync
        if systemctl reboot; then exit 0; fi
        echo "SCVM reboot refused" | tee "$results/reboot.log"
        echo 1 > "$results/reboot.rc"
    fi
elif [ "$boot" -eq 2 ] && [ -s "$requests" ]; then
    while read -r executable test; do
        SCTEST_PHASE=after-reboot run_test "$executable.after-reboot" \
            "$disk/tests/$executable" --exact "$test" --test-threads 1
    done < "$requests"
else
    echo "SCVM unexpected boot $boot" | tee "$results/unexpected-boot.log"
    echo 1 > "$results/unexpected-boot.rc"
fi
finish
