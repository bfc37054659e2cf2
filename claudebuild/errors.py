"""The one exception type users see.

Every expected failure (bad config, missing CLI, locked state dir, API login
problems) is raised as `ClaudebuildError` with a message that names the cause
and the fix; the CLI prints it on one line and exits 1, never with a traceback.
"""


class ClaudebuildError(Exception):
    """A failure the user can fix; `str(error)` is the whole message."""


class StepFailed(ClaudebuildError):
    """One step of the build failed (a chunk, the report's gate): the engine reports it as a failed
    task and the run goes on, where any other exception would be a crash. Raised by run/, turned
    into doit's failure by engine/, so only the engine knows doit."""


_NOT_WRITABLE_MARKERS = ("readonly", "read-only", "permission denied", "unable to open", "access")


def state_error(path: object, error: BaseException) -> ClaudebuildError:
    """The message for a state file that cannot be used: a permission problem says so and keeps the
    cache (deleting a valid cache to "fix" a read-only directory throws paid results away); only
    a file that really is not a database is called one."""
    text = str(error).lower()
    errno_value = getattr(error, "errno", None)
    if errno_value in (1, 13, 30) or any(marker in text for marker in _NOT_WRITABLE_MARKERS):
        return ClaudebuildError(f"cannot write {path} ({error}): the state directory is not writable; "
                                "fix its permissions or owner (the cached results in it are fine, keep them)")
    return ClaudebuildError(f"{path} is not a usable database ({error}): delete it to start a fresh cache")
