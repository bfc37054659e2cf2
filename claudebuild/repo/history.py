"""Past commits of the repository under review, as plain directories: what `estimate --history` plans over.

A commit is exported with `git archive` into a directory of its own (never a checkout:
the user's work tree, index and HEAD stay untouched), and extracted with tarfile's `data`
filter, so no member can write outside that directory, be a device or keep odd modes (such a member
is left out).
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from claudebuild.errors import ClaudebuildError
from claudebuild.repo.git import run_git


def recent_commits(root: Path, count: int) -> list[str]:
    """The last `count` commits of HEAD's first-parent history, oldest first (fewer when the history is shorter)."""
    done = run_git(root, "rev-list", "--first-parent", f"--max-count={count}", "HEAD", "--")
    if done is None or done.returncode != 0:
        why = "git is not installed" if done is None else done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:]
        raise ClaudebuildError(f"--history needs a git repository with commits ({why}): run it in a git work tree")
    return list(reversed(done.stdout.decode().split()))


def commit_subject(root: Path, commit: str) -> str:
    done = run_git(root, "log", "-1", "--format=%s", commit, "--")
    return done.stdout.decode("utf-8", "replace").strip() if done is not None and done.returncode == 0 else ""


def export_commit(root: Path, commit: str, dest: Path) -> Path:
    """The tree of `commit` below `root` (as `root` sits in the work tree), extracted into `dest`."""
    done = run_git(root, "archive", "--format=tar", commit, "--", ".")
    if done is None or done.returncode != 0:
        raise ClaudebuildError(f"cannot export commit {commit[:12]} with git archive: check that the repository is intact")
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(done.stdout)) as archive:
        archive.extractall(dest, filter=_data_or_skip)
    return dest


def _data_or_skip(member: tarfile.TarInfo, path: str) -> tarfile.TarInfo | None:
    """tarfile's `data` filter, but a member it refuses (a symlink out of the tree, …) is left out, not fatal:
    discovery would never send it anyway."""
    try:
        return tarfile.data_filter(member, path)
    except tarfile.FilterError:
        return None
