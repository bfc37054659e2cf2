"""The one exception type users see.

Every expected failure (bad config, missing CLI, locked state dir, API login
problems) is raised as `ClaudebuildError` with a message that names the cause
and the fix; the CLI prints it on one line and exits 1, never with a traceback.
"""


class ClaudebuildError(Exception):
    """A failure the user can fix; `str(error)` is the whole message."""
