#!/usr/bin/env bash
# The whole test suite, from a fresh Debian/Ubuntu machine with a Rust toolchain:
# installs what the suite needs, then runs every lane and prints what passed, failed, skipped.
#
#   sudo scripts/test.sh                       # everything
#   VNET_SKIP_KERNEL_LANE=1 sudo scripts/test.sh   # without the stock-kernel lane (qemu)
#                                                  # and without the VM on a TAP port
#
# Lanes:
#   checks  cargo fmt, clippy -D warnings, no dbg!/todo!/unimplemented! in src/
#   unit    unit tests and command-line tests (no root needed)
#   host    end-to-end tests on this machine's kernel, as root, inside a throwaway
#           network + mount namespace (the test binary isolates itself); vm::* boots a
#           real VM (qemu, the stock kernel, busybox) on a lab's TAP port, with the
#           kernel lane's assets (scripts/kernel-lane.sh --prepare-only)
#   soak    every bundled lab tested VNET_SOAK_RUNS times (default 5): the same verdict each
#           time (scripts/soak-verdicts.sh; 200 runs by hand)
#   kernel  the same end-to-end tests under Debian's stock kernel in qemu
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "scripts/test.sh needs root (end-to-end tests build real namespaces): sudo $0" >&2
  exit 2
fi

# Packages the suite needs. nftables: the `nft` binary for NAT rulesets; libxml2-utils:
# `xmllint`, which validates the JUnit reports against tests/junit/junit.xsd.
need=()
# iputils-ping: `ping`, which the stock-kernel lane's e2e against_ping::* measures vnet's
# rtt: and loss: against (copied into the lane's guest); iperf3, which e2e
# against_ping::tbf_rate_* measures vnet's rate: against, in both lanes.
for pkg in nftables iproute2 libxml2-utils iputils-ping iperf3; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
# bc sums the lanes' counts; the verdict soak reads vnet's JSON with python3.
command -v bc >/dev/null || need+=(bc)
command -v python3 >/dev/null || need+=(python3-minimal)
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# cargo-deb builds the Debian package the e2e test `package::*` unpacks and runs.
if ! command -v cargo-deb >/dev/null && [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo-deb" ]; then
  echo "== installing cargo-deb"
  cargo install --quiet cargo-deb --locked
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
passed=0 failed=0 skipped=0
count() { # sums libtest's "test result:" lines of the last lane
  local p f i
  p=$(grep -E '^test result:' "$log" | sed -E 's/.* ([0-9]+) passed.*/\1/' | paste -sd+ | bc)
  f=$(grep -E '^test result:' "$log" | sed -E 's/.* ([0-9]+) failed.*/\1/' | paste -sd+ | bc)
  i=$(grep -E '^test result:' "$log" | sed -E 's/.* ([0-9]+) ignored.*/\1/' | paste -sd+ | bc)
  echo "${p:-0} ${f:-0} ${i:-0}"
}
lane_status=0
run_lane() { # name, command...
  local name=$1; shift
  echo "== lane $name: $*"
  set +e
  "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  set -e
  read -r p f i < <(count)
  if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi
  echo "lane $name: $p passed, $f failed, $i skipped"
  passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + i))
  [ "$rc" = 0 ] || lane_status=1
}

echo "== checks"
cargo fmt --all -- --check
cargo clippy --all-targets --quiet -- -D warnings
if grep -rnE '\b(dbg|todo|unimplemented)!' src/; then
  echo "dbg!/todo!/unimplemented! in src/" >&2
  exit 1
fi

cargo build --quiet --all-targets
run_lane unit cargo test --quiet --lib --test cli --test architecture
# The VM on a TAP port (e2e vm::*) boots the kernel lane's kernel with its busybox and qemu:
# fill that cache first and hand the test the paths (VNET_VM_*). Paths already in the
# environment are used as they are; without any, the test is skipped and says why.
if [ "${VNET_SKIP_KERNEL_LANE:-0}" != 1 ] && [ -z "${VNET_VM_KERNEL:-}" ]; then
  echo "== the VM test's assets: scripts/kernel-lane.sh --prepare-only"
  if vm_env=$(scripts/kernel-lane.sh --prepare-only); then
    eval "$vm_env"
  else
    echo "could not prepare the VM test's assets: vm::* will be skipped" >&2
  fi
fi
run_lane host cargo test --quiet --test e2e
# The same verdict every run: a few runs of every bundled lab here (the full soak is 200).
run_lane soak env VNET_BIN="$PWD/target/debug/vnet" scripts/soak-verdicts.sh "${VNET_SOAK_RUNS:-5}"

if [ "${VNET_SKIP_KERNEL_LANE:-0}" != 1 ]; then
  e2e=$(cargo test --test e2e --no-run --message-format=json 2>/dev/null \
    | grep -o '"executable":"[^"]*e2e-[^"]*"' | tail -n1 | cut -d'"' -f4)
  run_lane kernel scripts/kernel-lane.sh --vnet target/debug/vnet --e2e "$e2e" --topologies topologies
else
  echo "lane kernel: skipped (VNET_SKIP_KERNEL_LANE=1)"
fi

echo
echo "total: $passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ] && [ "$lane_status" = 0 ]
