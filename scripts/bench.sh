#!/usr/bin/env bash
# Times `vnet up`, `vnet down` and an all-pairs verify of HOSTS hosts on one bridge (default
# 100), inside a throwaway namespace: the quick mode of scripts/benchmark.sh, which also
# compares vnet with Mininet and with iproute2 scripts; like every run of it, with the soft
# open-file limit at 1024, what a login shell gives. Needs root.
# Usage: sudo scripts/bench.sh [HOSTS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${2:-5} exec scripts/benchmark.sh --quick "${1:-100}"
