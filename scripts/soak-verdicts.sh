#!/usr/bin/env bash
# Verdict soak: RUNS (default 200) consecutive `vnet test --json` runs of every topology in
# topologies/ (or of the files given), each inside a throwaway network + mount namespace with
# a tmpfs over the whole of /run. Every run of a lab must give the same verdict: the same
# exit code and, row by row, the same pass/fail/error. Prints one line per lab and exits 1 if
# any lab's verdict changed between runs.
#
#   sudo scripts/soak-verdicts.sh [RUNS] [lab.yaml ...]
#
# VNET_BIN picks the binary (default: a release build made here).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-200}
shift || true
if [ "$#" -gt 0 ]; then files=("$@"); else files=(topologies/*.yaml); fi
if [ -z "${VNET_BIN:-}" ]; then
  cargo build --release --quiet
  VNET_BIN=$PWD/target/release/vnet
fi
command -v python3 >/dev/null || { echo "soak-verdicts needs python3 to read the JSON" >&2; exit 2; }
inner=$(mktemp)
trap 'rm -f "$inner"' EXIT
cat >"$inner" <<'INNER'
set -u
mount -t tmpfs vnet-soak /run
mkdir -p /run/netns /run/vnet
ip link set lo up
bin=$1 file=$2 runs=$3
# The machine NAT of a lab that has one is the sandbox's own, never the real machine's.
flags=()
grep -q '^  host:' "$file" && flags+=(--allow-machine-nat)
for i in $(seq 1 "$runs"); do
  out=$("$bin" test "$file" --json --progress never "${flags[@]}" 2>/dev/null)
  code=$?
  # One line per run: the exit code, then each row's verdict, in order.
  printf '%s\n' "$out" | python3 -c '
import json, sys
code = sys.argv[1]
try:
    doc = json.load(sys.stdin)
except ValueError:
    print(f"exit={code} not-json"); sys.exit(0)
rows = doc.get("checks", {}).get("rows", [])
keys = ("from", "to", "address", "method", "verdict")
print("exit=" + code + " " + " ".join("%s>%s@%s/%s=%s" % tuple(r[k] for k in keys) for r in rows))
' "$code"
done
INNER
status=0 same=0 changed=0
for f in "${files[@]}"; do
  start=$(date +%s)
  verdicts=$(unshare --net --mount --propagation private bash "$inner" "$VNET_BIN" "$f" "$runs")
  kinds=$(printf '%s\n' "$verdicts" | sort | uniq -c | sort -rn)
  n=$(printf '%s\n' "$kinds" | wc -l)
  secs=$(( $(date +%s) - start ))
  if [ "$n" = 1 ]; then
    same=$((same + 1))
    echo "$(basename "$f"): $runs runs, the same verdict every time ($(printf '%s' "$verdicts" | head -n1 | cut -d' ' -f1), ${secs} s)"
  else
    status=1
    changed=$((changed + 1))
    echo "$(basename "$f"): $runs runs, $n different verdicts:"
    # The rows that differ from the most common run.
    common=$(printf '%s\n' "$kinds" | head -n1 | sed -E 's/^ *[0-9]+ //')
    printf '%s\n' "$kinds" | tail -n +2 | while read -r count line; do
      echo "  $count run(s): $(diff <(tr ' ' '\n' <<<"$common") <(tr ' ' '\n' <<<"$line") | grep '^[<>]' | tr '\n' ' ')"
    done
  fi
done
# In the form scripts/test.sh counts: one "test" per lab.
echo "test result: $([ $status = 0 ] && echo ok || echo FAILED). $same passed; $changed failed; 0 ignored"
exit $status
