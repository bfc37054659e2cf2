"""`claudebuild init`: make a repository ready for `doit -n 5 analyze`."""

from __future__ import annotations

from pathlib import Path

from claudebuild.config import CONFIG_FILE, Config
from claudebuild.errors import ClaudebuildError

DODO = '''\
"""doit tasks for claudebuild: `doit -n 5 analyze`, `doit report`, `doit list`."""

from claudebuild.engine import dodo_tasks

globals().update(dodo_tasks(__file__))
'''

CLAUDEIGNORE = """\
# Files claudebuild never sends to Claude (gitignore syntax), on top of .gitignore.
# Secrets (.env*, keys, credentials), lock files, binaries, minified/generated files
# and files over max_file_bytes are always skipped anyway.
# vendor/
# tests/fixtures/
# **/migrations/
"""


def config_template() -> str:
    defaults = Config()
    return f"""\
# claudebuild configuration (all keys optional; shown with their defaults).
# The same keys work under [tool.claudebuild] in pyproject.toml.

# model = "{defaults.model}"              # pinned model: changing it re-analyzes everything
# The claude CLI to run is never set here (the repository must not choose programs to run):
# set CLAUDEBUILD_CLAUDE, pass --claude, or put claude_bin in ~/.config/claudebuild/config.toml.
# max_files_per_chunk = {defaults.max_files_per_chunk}
# max_chunk_bytes = {defaults.max_chunk_bytes}             # larger files are split by line ranges
# max_call_bytes = {defaults.max_call_bytes}              # a call may carry several stale chunks up to this; 0: one call each
# share_calls_from = {defaults.share_calls_from}               # ... in runs that start with at least this many stale chunks
# max_file_bytes = {defaults.max_file_bytes}             # larger files are skipped
# max_turns = {defaults.max_turns}
# call_timeout = {defaults.call_timeout}                # seconds per claude call
# retry_patience = {defaults.retry_patience}              # seconds a chunk keeps retrying rate limits/outages
# ignore = []                             # extra gitignore-style patterns
# formats = ["json", "md"]                # written to .claudebuild/report.*
# fail_on_error = true                    # non-zero exit when a chunk failed
# min_severity = "info"                   # drop findings below this severity
# instructions_file = "review-prompt.md"  # replace the review instructions
"""


def init_repository(root: Path, *, force: bool = False) -> list[str]:
    """Write dodo.py, .claudeignore and claudebuild.toml; ignore .claudebuild/. Returns what changed."""
    changed: list[str] = []
    for name, text in (("dodo.py", DODO), (".claudeignore", CLAUDEIGNORE), (CONFIG_FILE, config_template())):
        path = root / name
        if path.exists() and not force:
            if name == "dodo.py" and "claudebuild" not in path.read_text(encoding="utf-8", errors="replace"):
                raise ClaudebuildError(
                    "dodo.py exists and is not claudebuild's: add `from claudebuild.engine import dodo_tasks` and "
                    "`globals().update(dodo_tasks(__file__))` to it yourself, or rerun with --force to replace it"
                )
            continue
        path.write_text(text, encoding="utf-8")
        changed.append(name)
    gitignore = root / ".gitignore"
    existing = gitignore.read_text(encoding="utf-8") if gitignore.exists() else ""
    if not any(line.strip() in (".claudebuild/", ".claudebuild", "/.claudebuild/") for line in existing.splitlines()):
        separator = "" if not existing or existing.endswith("\n") else "\n"
        gitignore.write_text(existing + separator + ".claudebuild/\n", encoding="utf-8")
        changed.append(".gitignore")
    return changed
