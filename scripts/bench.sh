#!/usr/bin/env bash
# Runs the benchmarks (bench/run.ts) after making sure the project is set up and built.
# Usage: scripts/bench.sh [--no-setup] [bench options, see bench/run.ts]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--no-setup" ]; then
  shift
else
  bash scripts/setup.sh
fi
exec node --conditions=source --import tsx bench/run.ts "$@"
