#!/usr/bin/env bash
# Fuzzes the topology reader (parse, validate, plan) with libFuzzer, seeded with every
# topology in the repo and the broken corpus. Not part of CI: run it for a while by hand.
#
#   scripts/fuzz.sh [SECONDS]        # default 300
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-300}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
corpus=fuzz/corpus/parse
mkdir -p "$corpus"
cp topologies/*.yaml tests/broken/*.yaml "$corpus"/
# cargo-fuzz wants nightly flags (sanitizers); the stable toolchain accepts them this way.
export RUSTC_BOOTSTRAP=1
cargo fuzz run parse "$corpus" -- -max_total_time="$seconds" -max_len=65536
