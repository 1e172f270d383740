#!/usr/bin/env bash
# Times `vnet up` and `vnet down` of N hosts on one bridge (default 100), and an all-pairs
# verify, inside a throwaway network + mount namespace. Prints the median and min-max of
# several runs. Needs root. Usage: sudo scripts/bench.sh [HOSTS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
hosts=${1:-100}
runs=${2:-5}
cargo build --release --quiet
bin=$PWD/target/release/vnet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# One bridge (ports split over several bridges past the kernel's 1024-port limit).
{
  echo "name: bench"
  echo "nodes:"
  echo "  sw: {kind: bridge}"
  for i in $(seq 1 "$hosts"); do
    echo "  h$i: {interfaces: {eth0: 10.$((i / 250)).$((i % 250)).1/8}}"
  done
  echo "links:"
  for i in $(seq 1 "$hosts"); do echo "  - [h$i:eth0, sw:p$i]"; done
  echo "expect:"
  echo "  - {from: h1, to: h$hosts}"
} > "$work/bench.yaml"

# Runs inside the sandbox: prints "up SECONDS" / "down SECONDS" / "pairs SECONDS" lines.
cat > "$work/inner.sh" <<'INNER'
set -eu
mkdir -p /run/netns /run/vnet
mount -t tmpfs vnet-bench /run/netns
mount -t tmpfs vnet-bench /run/vnet
t() { local s e; s=$(date +%s.%N); "$@" > /dev/null; e=$(date +%s.%N); echo "$e - $s" | bc; }
for _ in $(seq 1 "$RUNS"); do
  echo "up $(t "$BIN" up "$FILE" --progress never)"
  if [ "$PAIRS" = 1 ]; then echo "pairs $(t "$BIN" verify bench --all-pairs)"; fi
  echo "down $(t "$BIN" down bench)"
done
INNER
pairs=0
[ "$hosts" -le 300 ] && pairs=1
command -v bc >/dev/null || apt-get install -y -qq bc >/dev/null
out=$(RUNS=$runs BIN=$bin FILE=$work/bench.yaml PAIRS=$pairs \
  unshare --net --mount --propagation private -- bash "$work/inner.sh")

stats() { # median (min-max) of the values of one kind
  echo "$out" | awk -v k="$1" '$1 == k { print $2 }' | sort -g | awk '
    { v[NR] = $1 } END { if (NR == 0) exit; m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
      printf "%.3f s (min %.3f, max %.3f, %d runs)\n", m, v[1], v[NR], NR }'
}
echo "vnet $("$bin" --version | cut -d' ' -f2), kernel $(uname -r), $(nproc) cores"
echo "$hosts hosts on one bridge"
echo "  up:    $(stats up)"
echo "  down:  $(stats down)"
[ "$pairs" = 1 ] && echo "  all-pairs verify ($((hosts * (hosts - 1))) probes): $(stats pairs)"
exit 0
