#!/bin/sh
# Runs inside the VM (started by sctest.service from the per-run disk at /mnt/sc): waits
# for the boot to finish, runs every test executable in /mnt/sc/tests, writes their output
# and exit codes as a tar to the results disk (/dev/vdc) and powers the VM off.
set -u
disk=/mnt/sc
results=/run/sctest-results
mkdir -p "$results"

state=$(systemctl is-system-running --wait)
echo "SCVM boot: $state after $(cut -d' ' -f1 /proc/uptime) s, kernel $(uname -r)"
[ "$state" = running ] || systemctl --failed --no-legend
echo "SCVM cgroup2 root controllers: $(cat /sys/fs/cgroup/cgroup.subtree_control)"

# The harness puts each test's containers below the test's own cgroup; from the root
# cgroup they land where the default parent (/syscontainer) puts them too, and not below
# this service's cgroup, where v2's no-internal-process rule would refuse controllers.
echo $$ > /sys/fs/cgroup/cgroup.procs

export SYSCONTAINER_BIN_DIR="$disk/bin" SYSCONTAINER_TEST_ROOTFS="$disk/rootfs"
export PATH="$disk/bin:$PATH" RUST_BACKTRACE=1
filter=$(cat "$disk/filter")
cd /tmp
for test in "$disk"/tests/*; do
    name=$(basename "$test")
    echo "SCVM running $name $filter"
    start=$(cut -d' ' -f1 /proc/uptime)
    # shellcheck disable=SC2086 # the filter is libtest arguments, split on purpose
    { "$test" --test-threads 2 $filter 2>&1; echo $? > "$results/$name.rc"; } | tee "$results/$name.log"
    echo "SCVM $name exit $(cat "$results/$name.rc") after $(echo "$(cut -d' ' -f1 /proc/uptime) $start" | awk '{print $1 - $2}') s"
done
echo "$(cut -d' ' -f1 /proc/uptime)" > "$results/uptime"

tar -C "$results" -cf /dev/vdc .
sync
echo "SCVM done"
systemctl poweroff -f
