#!/usr/bin/env bash
# Runs the README's "Try it" walkthrough exactly as the README shows it (the block between the
# walkthrough markers) against a running server: PORT, default 8000. `--print` only prints it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

script=$(awk '/<!-- walkthrough:end -->/ { inside = 0 } inside && !/^```/ { print } /<!-- walkthrough:start -->/ { inside = 1 }' README.md)
if [[ -z $script ]]; then
  echo "no walkthrough between <!-- walkthrough:start --> and <!-- walkthrough:end --> in README.md" >&2
  exit 1
fi
if [[ ${1-} == --print ]]; then
  printf '%s\n' "$script"
  exit 0
fi
exec bash -c "$script" walkthrough
