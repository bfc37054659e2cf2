#!/usr/bin/env bash
# Set up (see setup.sh) and run the whole test suite: unit tests and end-to-end tests that run the
# real Claude Code CLI (the pinned version, and the newest for chosen scenarios) against claudebuild's local
# fake Anthropic API (no network, no key).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Lint and type-check first (seconds each; the rules are in pyproject.toml): a failure stops the run.
if ! .venv/bin/ruff check --quiet claudebuild tests bench dodo.py; then
    echo "test: ruff check failed (see above; rules in pyproject.toml [tool.ruff])" >&2
    exit 1
fi
echo "test: ruff check passed"
if ! .venv/bin/mypy --no-error-summary; then
    echo "test: mypy --strict failed (see above; settings in pyproject.toml [tool.mypy])" >&2
    exit 1
fi
echo "test: mypy --strict passed"
# The HTML report is checked in a real headless Chromium; in CI (as root, on Debian) install it from
# Debian's packages. Elsewhere that one test is skipped with a reason when Chromium is missing.
if [ "${CI:-}" = "true" ] && ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
        || echo "test: could not install chromium; the browser test will be skipped" >&2
fi
# The remote-cache tests run a real nginx (WebDAV PUT) as this user on a loopback port; install it the same way.
if [ "${CI:-}" = "true" ] && ! command -v nginx >/dev/null 2>&1 && ! [ -x /usr/sbin/nginx ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null) \
        || echo "test: could not install nginx; the remote-cache server tests will be skipped" >&2
fi
# The scenarios marked both_clis run on the pinned minimum-supported CLI and on the newest tested one (both
# versions: claudebuild/__init__.py), which must then be present; every other test runs on the newest.
export CLAUDEBUILD_CLAUDE="$PWD/tools/node_modules/.bin/claude"
export CLAUDEBUILD_CLAUDE_NEWEST="$PWD/tools-newest/node_modules/.bin/claude"
# The suite is CPU-bound (each real CLI start costs ~1 CPU-second) and one pytest process keeps ~1.5 of 2 cores
# busy, so tests run on one worker per core (pytest-xdist); `-n 0` (or any -n/--numprocesses given) overrides it.
# Work stealing: an idle worker takes half of another's queue, so the run never ends on one worker alone.
workers=(-n "${CLAUDEBUILD_TEST_WORKERS:-auto}" --dist worksteal)
for arg in "$@"; do
    case "$arg" in -n|-n*|--numprocesses|--numprocesses=*) workers=() ;; esac
done
status=0
.venv/bin/python -m pytest "${workers[@]}" "$@" || status=$?
if [ "$status" -eq 5 ]; then
    echo "test: pytest collected no tests; that is a failure" >&2
    exit 1
fi
exit "$status"
