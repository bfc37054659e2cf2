#!/usr/bin/env bash
# The steps of claudebuild's GitHub Action (action.yml), as one script that runs anywhere: the action calls it
# with its inputs as INPUT_* variables, and the tests run it locally against the fake API.
#
#   1. install claudebuild from the action's own source (never from the checkout under review) in a private
#      virtualenv, and the pinned Claude Code CLI with npm, unless CLAUDEBUILD_PYTHON / CLAUDEBUILD_CLAUDE
#      already name them (the workflow's choice, never the repository's);
#   2. run the review: `report` (one job, PR mode with INPUT_CHANGED_SINCE, shard K/N with INPUT_SHARD), or,
#      with INPUT_MERGE, `merge` of the shard directories and `report --no-analyze` (no CLI installed);
#   3. write the outputs: the SARIF path and the exit code to $GITHUB_OUTPUT. Annotations and the step summary
#      are written once, by the job that reports (a shard job writes neither: the merge job does).
#
# Inputs (all optional): INPUT_PATH (the project to review, default "."), INPUT_FAIL_ON (default high; "none"
# never fails on findings), INPUT_FORMATS (default json,md,sarif), INPUT_MAX_COST, INPUT_CACHE_URL, INPUT_CACHE_READ_ONLY,
# INPUT_CONFIG_FROM, INPUT_SHARD (K/N), INPUT_MERGE (shard directories, space-separated, globs allowed),
# INPUT_CHANGED_SINCE, INPUT_JOBS (default 5), INPUT_CLAUDE_CODE_VERSION (default: the version claudebuild pins).
set -uo pipefail

action_path=${GITHUB_ACTION_PATH:-$(cd "$(dirname "$0")/.." && pwd)}
work=${RUNNER_TEMP:-${TMPDIR:-/tmp}}/claudebuild-action
project=${INPUT_PATH:-.}
fail_on=${INPUT_FAIL_ON:-high}
formats=${INPUT_FORMATS:-json,md,sarif}
jobs=${INPUT_JOBS:-5}

say() { echo "claudebuild-action: $*"; }
fail() { echo "claudebuild-action: error: $*" >&2; exit 1; }

[ -d "$project" ] || fail "input path '$project' is not a directory of the checkout"
case ",$formats," in *,sarif,*) ;; *) formats="$formats,sarif" ;; esac  # the SARIF output is always there
case "$jobs" in ''|*[!0-9]*) fail "input jobs must be a whole number, got '$jobs'" ;; esac
if [ -n "${INPUT_SHARD:-}" ] && [ -n "${INPUT_MERGE:-}" ]; then
    fail "inputs shard and merge are for different jobs: the shard jobs analyze, one merge job reports"
fi

# 1. install
python=${CLAUDEBUILD_PYTHON:-}
if [ -z "$python" ]; then
    command -v python3 >/dev/null || fail "python3 (>= 3.11) is needed: add actions/setup-python before this action"
    python3 -m venv "$work/venv" || fail "cannot create a virtualenv in $work/venv"
    "$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check "$action_path" \
        || fail "installing claudebuild from $action_path failed"
    python=$work/venv/bin/python
fi
if [ -z "${INPUT_MERGE:-}" ] && [ -z "${CLAUDEBUILD_CLAUDE:-}" ]; then
    version=${INPUT_CLAUDE_CODE_VERSION:-$("$python" -c 'import claudebuild; print(claudebuild.CLAUDE_CODE_VERSION)')}
    command -v npm >/dev/null || fail "npm is needed to install the Claude Code CLI: add actions/setup-node before this action"
    npm install --prefix "$work/cli" --no-audit --no-fund --no-package-lock --no-save --loglevel=error \
        "@anthropic-ai/claude-code@$version" >/dev/null || fail "installing @anthropic-ai/claude-code@$version failed"
    export CLAUDEBUILD_CLAUDE=$work/cli/node_modules/.bin/claude
fi
[ -n "${INPUT_CONFIG_FROM:-}" ] && export CLAUDEBUILD_CONFIG_FROM=$INPUT_CONFIG_FROM
[ -n "${INPUT_CACHE_URL:-}" ] && export CLAUDEBUILD_CACHE_URL=$INPUT_CACHE_URL
[ "${INPUT_CACHE_READ_ONLY:-false}" = "true" ] && export CLAUDEBUILD_CACHE_READ_ONLY=1
export CI=${CI:-true}
claudebuild() { "$python" -m claudebuild -C "$project" "$@"; }

# 2. review
gate=()
[ "$fail_on" != "none" ] && [ -n "$fail_on" ] && gate=(--fail-on "$fail_on")
if [ -n "${INPUT_MERGE:-}" ]; then
    # shellcheck disable=SC2086  # the shard directories are a word list with globs, e.g. "shards/*/"
    set -- $INPUT_MERGE
    [ $# -gt 0 ] && [ -e "$1" ] || fail "input merge names no shard directory: '$INPUT_MERGE'"
    say "merging $# shard(s), then reporting from the stored results"
    claudebuild merge --no-fail-on-error "$@" >&2
    merged=$?
    # whatever merge said, the report lists every chunk without a result: it fails the job if one is missing
    claudebuild report --no-analyze --formats "$formats" "${gate[@]}"
    code=$?
    [ "$merged" -gt 1 ] && code=$merged
else
    args=(report -n "$jobs" --formats "$formats")
    [ -n "${INPUT_MAX_COST:-}" ] && args+=(--max-cost "$INPUT_MAX_COST")
    [ -n "${INPUT_CHANGED_SINCE:-}" ] && args+=(--changed-since "$INPUT_CHANGED_SINCE")
    if [ -n "${INPUT_SHARD:-}" ]; then
        # one shard of many: its results go to the merge job, which gates and writes annotations and the summary
        say "analyzing shard $INPUT_SHARD"
        GITHUB_ACTIONS=false GITHUB_STEP_SUMMARY='' claudebuild "${args[@]}" --shard "$INPUT_SHARD" --no-fail-on-error
        code=$?
    else
        claudebuild "${args[@]}" "${gate[@]}"
        code=$?
    fi
fi

# 3. outputs
state=$("$python" -c 'import sys; from claudebuild.config import load_config; from pathlib import Path; print(load_config(Path(sys.argv[1])).state_path)' "$project" 2>/dev/null) \
    || state=$project/.claudebuild
if [ -n "${GITHUB_OUTPUT:-}" ]; then
    {
        echo "sarif=$state/report.sarif"
        echo "report-dir=$state"
        echo "exit-code=$code"
    } >>"$GITHUB_OUTPUT"
fi
exit "$code"
