#!/usr/bin/env bash
# Set up everything claudebuild's demo and tests need, idempotently and quickly when done before:
# a virtualenv in .venv with claudebuild (editable) and its test deps, and the pinned Claude Code CLI
# from npm in tools/node_modules. Needs only python3 (>= 3.11) and npm.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "setup: claudebuild needs Python >= 3.11 (set PYTHON=/path/to/python3.11)" >&2
    exit 1
fi
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
stamp=.venv/.claudebuild-deps
want=$(cat pyproject.toml | "$python" -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest()[:16])')
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
    echo "$want" > "$stamp"
fi

if ! command -v npm >/dev/null 2>&1; then
    echo "setup: npm is needed to install the pinned Claude Code CLI (install Node.js >= 18)" >&2
    exit 1
fi
pinned=$(.venv/bin/python -c 'import claudebuild; print(claudebuild.CLAUDE_CODE_VERSION)')
have=$(tools/node_modules/.bin/claude --version 2>/dev/null | cut -d' ' -f1 || true)
if [ "$have" != "$pinned" ]; then
    npm install --prefix tools --no-audit --no-fund --no-package-lock --no-save --loglevel=error \
        "@anthropic-ai/claude-code@$pinned" >/dev/null
    have=$(tools/node_modules/.bin/claude --version 2>/dev/null | cut -d' ' -f1 || true)
    if [ "$have" != "$pinned" ]; then
        echo "setup: installing @anthropic-ai/claude-code@$pinned did not give a working tools/node_modules/.bin/claude" >&2
        exit 1
    fi
fi
echo "setup: ready (.venv, claude $have in tools/node_modules/.bin)"
