#!/usr/bin/env bash
# Regenerates the shell completion files in completions/ from the CLI definition.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet
vnet=${CARGO_TARGET_DIR:-target}/debug/vnet
"$vnet" completions bash > completions/vnet.bash
"$vnet" completions zsh > completions/_vnet
"$vnet" completions fish > completions/vnet.fish
