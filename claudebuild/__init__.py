"""claudebuild: AI code analysis with the Claude Code CLI as an incremental doit build."""

__version__ = "0.1.0"

CLAUDE_CODE_VERSION = "2.1.197"
"""The `@anthropic-ai/claude-code` release the tests, demo and docs are pinned to."""

CLAUDE_CODE_NEWEST = "2.1.332"
"""The newest `@anthropic-ai/claude-code` release tested (users install the newest): scripts/setup.sh puts it in
tools-newest/, and the end-to-end scenarios marked `both_clis` run against it as well as the pinned minimum."""
