#!/usr/bin/env bash
# Latency of syscontainer-tools hot-add operations against `lxc-device add`, side by side in
# one run, on the same rootfs (two overlay copies) booted by syscontainer and by LXC.
#
#   tools/bench/bench.sh --bin-dir DIR --rootfs DIR [--iterations N]
#
# Measured (median and p90 of N calls, milliseconds, wall clock of the whole command):
#   add-device  a loop device            vs  lxc-device add /dev/loopN
#   add-nic     move a host NIC in (eth) vs  lxc-device add NIC (LXC moves a host NIC in)
#   add-nic     veth pair on a bridge    vs  (LXC: no equivalent in lxc-device)
#   add-route   one route                vs  (LXC: no equivalent)
#   add-path    a bind mount             vs  (LXC: no equivalent)
# Each add is followed by its removal (not timed), so every call does the same work.
set -euo pipefail

BIN_DIR=""; ROOTFS=""; N=20
while [ $# -gt 0 ]; do
  case "$1" in
    --bin-dir) BIN_DIR="$2"; shift 2 ;;
    --rootfs) ROOTFS="$2"; shift 2 ;;
    --iterations) N="$2"; shift 2 ;;
    *) echo "bench.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -x "$BIN_DIR/syscontainer" ] && [ -x "$BIN_DIR/syscontainer-tools" ] || { echo "bench.sh: no binaries in --bin-dir ${BIN_DIR:-?}" >&2; exit 2; }
[ -x "$ROOTFS/sbin/init" ] || { echo "bench.sh: no rootfs at --rootfs ${ROOTFS:-?}" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "bench.sh: run as root" >&2; exit 2; }

WORK=$(mktemp -d /tmp/sct-bench.XXXXXX)
TAG=$$
SC="$BIN_DIR/syscontainer --root $WORK/store --log-level warn"
TOOLS="$BIN_DIR/syscontainer-tools --root $WORK/store"
BR="scbbr$((TAG % 10000))"
LOOP=""
LXC_NOTE=""
LXC_STARTED=0
HAVE_LXC=0
command -v lxc-start >/dev/null && command -v lxc-device >/dev/null && HAVE_LXC=1

cleanup() {
  set +e
  $SC rm -f bench-sc >/dev/null 2>&1
  if [ "$LXC_STARTED" = 1 ]; then
    lxc-stop -P "$WORK/lxc" -n bench-lxc -k >/dev/null 2>&1
    lxc-wait -P "$WORK/lxc" -n bench-lxc -s STOPPED -t 10 >/dev/null 2>&1
  fi
  ip link del "$BR" 2>/dev/null
  for i in $(seq 0 1); do ip link del "scbp$TAG$i" 2>/dev/null; done
  [ -n "$LOOP" ] && losetup -d "$LOOP"
  for m in "$WORK"/ov-*/merged; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT

overlay() {
  local d="$WORK/ov-$1"
  mkdir -p "$d"/{upper,work,merged}
  mount -t overlay overlay -o "lowerdir=$ROOTFS,upperdir=$d/upper,workdir=$d/work" "$d/merged"
  echo "$d/merged"
}

now_ns() { date +%s%N; }

# stats NAME FILE: median and p90 of the numbers (ns) in FILE, in ms
stats() {
  sort -n "$2" | awk -v name="$1" '{a[NR]=$1} END {
    if (NR == 0) { printf "%-44s %10s %10s\n", name, "n/a", "n/a"; exit }
    m = a[int((NR + 1) / 2)]; p = a[int(NR * 0.9 + 0.999)];
    printf "%-44s %10.2f %10.2f\n", name, m / 1e6, p / 1e6 }'
}

# time_it FILE CMD...: append the wall time of CMD (ns) to FILE; CMD must succeed
time_it() {
  local out="$1"; shift
  local t0 t1
  t0=$(now_ns)
  "$@" >/dev/null
  t1=$(now_ns)
  echo $((t1 - t0)) >> "$out"
}

truncate -s 64M "$WORK/disk.img"
LOOP=$(losetup -f --show "$WORK/disk.img")
ip link add "$BR" type bridge
ip addr add 10.250.0.1/24 dev "$BR"
ip link set "$BR" up
mkdir -p "$WORK/hostdir"

# syscontainer
$SC run -tid --name bench-sc --system-container --external-rootfs "$(overlay sc)" none init >/dev/null
for _ in $(seq 1 300); do
  s=$($SC exec bench-sc systemctl is-system-running 2>/dev/null || true)
  case "$s" in running|degraded) break ;; esac
  sleep 0.1
done

# LXC
if [ "$HAVE_LXC" = 1 ]; then
  mkdir -p "$WORK/lxc/bench-lxc"
  cat > "$WORK/lxc/bench-lxc/config" <<CFG
lxc.include = /usr/share/lxc/config/common.conf
lxc.arch = linux64
lxc.rootfs.path = dir:$(overlay lxc)
lxc.uts.name = bench-lxc
lxc.net.0.type = empty
lxc.apparmor.profile = unconfined
lxc.init.cmd = /sbin/init
CFG
  LXC_STARTED=1
  if lxc-start -P "$WORK/lxc" -n bench-lxc -d && lxc-wait -P "$WORK/lxc" -n bench-lxc -s RUNNING -t 30; then
    for _ in $(seq 1 300); do
      s=$(lxc-attach -P "$WORK/lxc" -n bench-lxc -- systemctl is-system-running 2>/dev/null || true)
      case "$s" in running|degraded) break ;; esac
      sleep 0.1
    done
  else
    LXC_NOTE="LXC did not start"
    HAVE_LXC=0
  fi
fi

if [ "$HAVE_LXC" = 1 ]; then
  # lxc-device checks whether its argument is a host NIC by entering /proc/1/ns/net; where
  # PID 1 is not the host's init (or not readable) it cannot work at all.
  if ! probe=$(lxc-device -P "$WORK/lxc" -n bench-lxc add "$LOOP" /dev/benchprobe 2>&1); then
    LXC_NOTE="lxc-device does not work on this host: $(echo "$probe" | head -1)"
    HAVE_LXC=0
  else
    lxc-attach -P "$WORK/lxc" -n bench-lxc -- rm -f /dev/benchprobe
  fi
elif [ -z "$LXC_NOTE" ]; then
  LXC_NOTE="LXC is not installed or did not start"
fi

R="$WORK/results"; mkdir -p "$R"
touch "$R"/{sc-dev,lxc-dev,sc-eth,lxc-eth,sc-veth,lxc-veth,sc-route,lxc-route,sc-path,lxc-path}

for i in $(seq 1 "$N"); do
  # add-device
  time_it "$R/sc-dev" $TOOLS add-device bench-sc "$LOOP:/dev/benchdisk"
  $TOOLS remove-device bench-sc "$LOOP:/dev/benchdisk" >/dev/null
  if [ "$HAVE_LXC" = 1 ]; then
    time_it "$R/lxc-dev" lxc-device -P "$WORK/lxc" -n bench-lxc add "$LOOP" /dev/benchdisk
    lxc-attach -P "$WORK/lxc" -n bench-lxc -- rm -f /dev/benchdisk
  fi

  # add-nic --type eth: a host NIC (one end of a host veth pair) moved in
  ip link add "scbp${TAG}0" type veth peer name "scbp${TAG}1"
  time_it "$R/sc-eth" $TOOLS add-nic --type eth --name "scbp${TAG}0:eth5" bench-sc
  $TOOLS remove-nic --type eth --name eth5 bench-sc >/dev/null
  if [ "$HAVE_LXC" = 1 ]; then
    time_it "$R/lxc-eth" lxc-device -P "$WORK/lxc" -n bench-lxc add "scbp${TAG}0" eth5
    lxc-device -P "$WORK/lxc" -n bench-lxc del eth5 >/dev/null 2>&1 || true
  fi
  ip link del "scbp${TAG}0" 2>/dev/null || true
  ip link del "scbp${TAG}1" 2>/dev/null || true

  # add-nic --type veth on a bridge, with an address
  time_it "$R/sc-veth" $TOOLS add-nic --name "scbv${TAG}:eth6" --ip 10.250.0.2/24 --bridge "$BR" bench-sc
  # add-route through it
  time_it "$R/sc-route" $TOOLS add-route bench-sc '[{"dest":"10.251.0.0/16","gw":"10.250.0.1"}]'
  $TOOLS remove-route bench-sc '[{"dest":"10.251.0.0/16","gw":"10.250.0.1"}]' >/dev/null
  $TOOLS remove-nic --name eth6 bench-sc >/dev/null

  # add-path
  time_it "$R/sc-path" $TOOLS add-path bench-sc "$WORK/hostdir:/mnt/bench:ro"
  $TOOLS remove-path bench-sc "$WORK/hostdir:/mnt/bench" >/dev/null
done

echo
echo "hot-add latency, $N calls each (ms; median / p90 of the whole command)"
printf "%-44s %10s %10s\n" "operation" "median" "p90"
stats "syscontainer-tools add-device (loop)" "$R/sc-dev"
stats "lxc-device add (loop)" "$R/lxc-dev"
stats "syscontainer-tools add-nic --type eth" "$R/sc-eth"
stats "lxc-device add (host NIC)" "$R/lxc-eth"
stats "syscontainer-tools add-nic veth+bridge+ip" "$R/sc-veth"
stats "lxc-device: no veth-on-bridge add" "$R/lxc-veth"
stats "syscontainer-tools add-route" "$R/sc-route"
stats "lxc-device: no route add" "$R/lxc-route"
stats "syscontainer-tools add-path (ro bind)" "$R/sc-path"
stats "lxc-device: no path add" "$R/lxc-path"
[ -n "$LXC_NOTE" ] && echo "LXC column n/a: $LXC_NOTE"
true
