"""The Claude Code CLI: the only code that starts `claude`, and how its outcomes are classified."""
