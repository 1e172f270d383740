#!/usr/bin/env bash
# Regenerates the shell completion files in completions/ from the CLI definition.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet
./target/debug/vnet completions bash > completions/vnet.bash
./target/debug/vnet completions zsh > completions/_vnet
./target/debug/vnet completions fish > completions/vnet.fish
