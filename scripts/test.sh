#!/usr/bin/env bash
# Set up (see setup.sh) and run the whole test suite: unit tests and end-to-end tests that run the
# real, pinned Claude Code CLI against claudebuild's local fake Anthropic API (no network, no key).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CLAUDEBUILD_CLAUDE="$PWD/tools/node_modules/.bin/claude"
status=0
.venv/bin/python -m pytest "$@" || status=$?
if [ "$status" -eq 5 ]; then
    echo "test: pytest collected no tests; that is a failure" >&2
    exit 1
fi
exit "$status"
