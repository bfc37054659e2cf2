"""claudebuild: AI code analysis with the Claude Code CLI as an incremental doit build."""

__version__ = "0.1.0"

CLAUDE_CODE_VERSION = "2.1.197"
"""The `@anthropic-ai/claude-code` release the tests, demo and docs are pinned to."""
