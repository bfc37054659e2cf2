#!/usr/bin/env bash
# Set up (see setup.sh) and run the offline demo: the bundled sample repository analyzed by the real
# Claude Code CLI against claudebuild's local fake API, then one file edited and the run repeated.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CLAUDEBUILD_CLAUDE="$PWD/tools/node_modules/.bin/claude"
exec .venv/bin/claudebuild demo "$@"
