#!/usr/bin/env bash
# Set up everything claudebuild's demo and tests need, idempotently and quickly when done before:
# a virtualenv in .venv with claudebuild (editable) and its test deps, the pinned Claude Code CLI from npm
# in tools/node_modules and the newest tested one in tools-newest/node_modules. Needs only python3 (>= 3.11)
# and npm.
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
# install_cli VERSION DIR: @anthropic-ai/claude-code@VERSION into DIR/node_modules, unless it is there already.
install_cli() {
    local version=$1 dir=$2 have
    have=$("$dir/node_modules/.bin/claude" --version 2>/dev/null | cut -d' ' -f1 || true)
    if [ "$have" != "$version" ]; then
        npm install --prefix "$dir" --no-audit --no-fund --no-package-lock --no-save --loglevel=error \
            "@anthropic-ai/claude-code@$version" >/dev/null
        have=$("$dir/node_modules/.bin/claude" --version 2>/dev/null | cut -d' ' -f1 || true)
        if [ "$have" != "$version" ]; then
            echo "setup: installing @anthropic-ai/claude-code@$version did not give a working $dir/node_modules/.bin/claude" >&2
            exit 1
        fi
    fi
}
# The pinned minimum-supported CLI (tools/) runs every test; the newest tested one (tools-newest/) runs the
# end-to-end scenarios marked both_clis. Both versions are constants in claudebuild/__init__.py.
versions=$(.venv/bin/python -c 'import claudebuild as c; print(c.CLAUDE_CODE_VERSION, c.CLAUDE_CODE_NEWEST)')
read -r pinned newest <<<"$versions"
install_cli "$pinned" tools
install_cli "$newest" tools-newest
echo "setup: ready (.venv, claude $pinned in tools/node_modules/.bin, claude $newest in tools-newest/node_modules/.bin)"
