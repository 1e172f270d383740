#!/usr/bin/env bash
# Regenerates man/ (one page for vnet and one per subcommand) from the command line, with
# clap_mangen: the cli test `man_pages_in_the_repo_are_current` writes them when asked to.
set -euo pipefail
cd "$(dirname "$0")/.."
VNET_WRITE_MAN=1 cargo test --quiet --test cli man_pages_in_the_repo_are_current
ls man/
