#!/usr/bin/env bash
# Soak: CYCLES (default 200) rounds of `vnet up` + `vnet down` of a mid-size lab that uses
# TAP devices, a link to the machine, bridges, NAT and a process started by `exec:`, inside a
# throwaway network + mount namespace. It must end as it began: the same named namespaces,
# links, mounts and lab processes, and (within the noise of the rest of the machine) the same
# count of open file handles.
#
#   sudo scripts/soak.sh [CYCLES]
set -euo pipefail
cd "$(dirname "$0")/.."
cycles=${1:-200}
cargo build --release --quiet
bin=$PWD/target/release/vnet
inner=$(mktemp)
topology=$(mktemp --suffix=.yaml)
trap 'rm -f "$inner" "$topology"' EXIT
# The figure-2 lab, with a process of its own to prove `down` stops what runs inside.
sed -e "s/probe: {interfaces: {eth0: 10.20.0.50\/24}, gateway: 10.20.0.1}/probe: {interfaces: {eth0: 10.20.0.50\/24}, gateway: 10.20.0.1, exec: ['sleep 1777 \&']}/" \
  -e 's/^name: vmlan/name: soak/' topologies/vm-lan-in-a-host.yaml > "$topology"
grep -q "sleep 1777" "$topology"
lab=soak
cat > "$inner" <<'INNER'
set -eu
mkdir -p /run/netns /run/vnet
mount -t tmpfs vnet-soak /run/netns
mount -t tmpfs vnet-soak /run/vnet
ip link set lo up
# Processes of this sandbox (they share its mount namespace), and their open files.
mine=$(readlink /proc/self/ns/mnt)
# A process the soak itself runs (this shell, and the commands counting) is not the lab's.
mine_too() {
  p=$1
  while [ "$p" -gt 1 ]; do
    [ "$p" = "$$" ] && return 0
    p=$(awk '/^PPid:/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 1)
  done
  return 1
}
ours() {
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/ns/mnt" 2>/dev/null)" = "$mine" ] || continue
    mine_too "${p#/proc/}" || echo "$p"
  done
}
count() {
  procs=$(ours || true)
  echo "namespaces=$(ls /run/netns | wc -l)" \
       "links=$(ip -o link | wc -l)" \
       "mounts=$(wc -l < /proc/self/mountinfo)" \
       "processes=$(echo "$procs" | grep -c . || true)" \
       "files=$(for p in $procs; do ls "$p/fd" 2>/dev/null; done | wc -l)"
}
before=$(count)
start=$(date +%s)
for i in $(seq 1 "$CYCLES"); do
  "$BIN" up "$FILE" --progress never > /dev/null 2>&1 || { echo "up failed in cycle $i"; "$BIN" up "$FILE"; exit 1; }
  "$BIN" down "$LAB" > /dev/null || { echo "down failed in cycle $i"; exit 1; }
done
after=$(count)
echo "cycles: $CYCLES in $(( $(date +%s) - start )) s"
echo "before: $before"
echo "after:  $after"
if [ "$before" != "$after" ]; then
  echo "soak: FAILED, the sandbox changed"; exit 1
fi
echo "soak: passed"
INNER
CYCLES=$cycles BIN=$bin FILE=$topology LAB=$lab \
  unshare --net --mount --propagation private -- sh "$inner"
