"""Repository-controlled inputs, read from where they can be trusted, and the state they must never hold.

The repository under review is data, never configuration of the machine. With
`--config-from REF` (or `CLAUDEBUILD_CONFIG_FROM`) everything that changes what
is reviewed or how it is judged (claudebuild.toml, pyproject.toml,
.claudeignore, the suppressions, baseline and instructions files) is read from
that commit, e.g. a pull request's base, so the change under review cannot
switch its own gate off. `RepoFiles` is the one reader for those files: the
working tree without a ref, `git cat-file blob REF:<path>` with one. The
state directory (cached results) is never allowed to come from a commit at all.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from claudebuild.contained import OutsideRepository, read_contained
from claudebuild.errors import ClaudebuildError

CONFIG_FROM_HINT = "--config-from / CLAUDEBUILD_CONFIG_FROM"

# Set by git while it runs hooks; they would point `git -C root` at another
# repository or index than root's own (pre-commit clears them the same way).
_GIT_LOCATION_VARIABLES = frozenset(
    {"GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_PREFIX", "GIT_COMMON_DIR", "GIT_OBJECT_DIRECTORY"}
)
_ABSENT_MARKERS = ("does not exist", "exists on disk, but not in", "bad file")
"""git's words for "no blob at this path in that commit" (missing, or a directory)."""


NO_REPOSITORY_PROGRAMS = ("--no-pager", "-c", "core.fsmonitor=false", "-c", "log.showSignature=false")
"""Given to every git claudebuild starts. The repository's own `.git/config` (which an unpacked archive or a
copied tree brings along) can name programs git runs: a `core.fsmonitor` that `status`, `ls-files` and `diff`
start, and `log.showSignature`, which makes `log` start `gpg.program` on a signed commit. A command-line setting
outranks it; without the monitor git only stats every file itself. (A pager never starts: output is captured.)"""
NO_REPOSITORY_HOOKS = ("-c", f"core.hooksPath={os.devnull}")
"""`git diff` against the work tree rewrites the index (even with `--no-optional-locks`) and so runs the
`post-index-change` hook from `.git/hooks`, which an archive brings too: no hook path holds a program."""
_NO_FILTER = (("clean", ""), ("smudge", ""), ("process", ""), ("required", "false"))
"""A filter driver with these settings starts nothing, and git takes the file's bytes as they are."""
_TRUSTED_SCOPES = frozenset({b"system", b"global", b"command"})
"""Config the user wrote (or passed); `local`, `worktree` and any file they include come with the repository."""
_driver_cache: dict[tuple[str, tuple[tuple[str, str], ...]], tuple[str, ...]] = {}


def git_process(root: Path, args: Sequence[str], env: Mapping[str, str], *,
                repository_hooks_path: bool = False) -> tuple[list[str], dict[str, str]]:
    """The argv and environment for `git args` run in `root` that no setting of the repository can make start a
    program, or reach a network destination it names.

    Beyond `NO_REPOSITORY_PROGRAMS` and `NO_REPOSITORY_HOOKS` (left out with `repository_hooks_path`, for the one
    call that asks where hooks live): every `filter.<driver>` the repository's config defines (a `.gitattributes`
    line picks it; `status`, `diff` and `archive` run its clean or smudge program) gets an empty clean, smudge and
    process command and `required=false`, so git reads the file's raw bytes. The names go through
    `GIT_CONFIG_KEY_<n>` (not `-c`, which splits at the first `=` a name may hold). `GIT_ALLOW_PROTOCOL` empty
    stops a partial clone's lazy fetch, which would connect to the repository's remote with its
    `remote.*.uploadpack`, `core.sshCommand` or `ext::` command."""
    process_env = dict(env)
    process_env["GIT_ALLOW_PROTOCOL"] = ""
    drivers = _repository_filter_drivers(root, process_env)
    if drivers:
        try:
            count = int(process_env.get("GIT_CONFIG_COUNT") or 0)
        except ValueError:
            raise ClaudebuildError(f"GIT_CONFIG_COUNT={process_env['GIT_CONFIG_COUNT']!r} is not a number: "
                                   "unset it or set it as git documents") from None
        settings = [(f"{driver}.{key}", value) for driver in drivers for key, value in _NO_FILTER]
        for number, (key, value) in enumerate(settings, start=count):
            process_env[f"GIT_CONFIG_KEY_{number}"], process_env[f"GIT_CONFIG_VALUE_{number}"] = key, value
        process_env["GIT_CONFIG_COUNT"] = str(count + len(settings))
    hooks = () if repository_hooks_path else NO_REPOSITORY_HOOKS
    return ["git", *NO_REPOSITORY_PROGRAMS, *hooks, *args], process_env


def _repository_filter_drivers(root: Path, env: Mapping[str, str]) -> tuple[str, ...]:
    """`filter.<driver>` for every filter driver the repository's own config defines, its included files too;
    read once per root and git environment in a process (a run makes several git calls). The same call finds
    a `core.worktree` there (`_check_work_tree`).

    `git config` itself runs nothing. Any name can be passed back as a key: git refuses a config whose section
    name holds a newline (every command fails on it, so nothing runs either)."""
    key = (str(root), tuple(sorted((name, value) for name, value in env.items() if name.startswith("GIT_"))))
    cached = _driver_cache.get(key)
    if cached is not None:
        return cached
    try:
        done = subprocess.run(["git", *NO_REPOSITORY_PROGRAMS, *NO_REPOSITORY_HOOKS, "config", "--null",
                               "--show-scope", "--name-only", "--get-regexp", r"^(filter\.|core\.worktree$)"],
                              cwd=root, env=dict(env), capture_output=True, check=False)
    except (FileNotFoundError, NotADirectoryError):
        return ()  # no git (the call it guards says so) or no such directory (nor will the call run)
    fields = done.stdout.split(b"\0") if done.returncode == 0 else []
    drivers: dict[str, None] = {}
    for scope, name in zip(fields[0::2], fields[1::2]):
        if scope in _TRUSTED_SCOPES:
            continue
        if name == b"core.worktree":
            _check_work_tree(root, env)
        elif name.count(b".") >= 2:
            drivers[os.fsdecode(name[:name.rindex(b".")])] = None
    _driver_cache[key] = result = tuple(drivers)
    return result


def _check_work_tree(root: Path, env: Mapping[str, str]) -> None:
    """Refuse a `core.worktree` from the repository's config that moves git's work tree away from the directory
    holding `.git`: every listing would then come from elsewhere (another directory, or a part of this one),
    and the review would silently skip the repository. A submodule's config names its own directory: allowed."""
    if "GIT_DIR" in env or "GIT_WORK_TREE" in env:
        return  # the user (or git running a hook) chose the repository explicitly
    here = Path(os.path.realpath(root))
    holder = next((directory for directory in (here, *here.parents) if os.path.lexists(directory / ".git")), None)
    done = subprocess.run(["git", *NO_REPOSITORY_PROGRAMS, *NO_REPOSITORY_HOOKS, "rev-parse", "--show-toplevel"],
                          cwd=root, env=dict(env), capture_output=True, check=False)
    top = os.fsdecode(done.stdout.rstrip(b"\n"))
    if done.returncode == 0 and (holder is None or Path(os.path.realpath(top)) != holder):
        raise ClaudebuildError(f"the repository's git config sets core.worktree to {top}, not the directory that "
                               f"holds its .git, so git would list other files: run `git config --unset "
                               f"core.worktree` in {holder or root}")


def run_git(root: Path, *args: str) -> subprocess.CompletedProcess[bytes] | None:
    """`git --literal-pathspecs -C root args...` with hook variables removed and no program from the repository's
    config (`git_process`); None when git is not installed."""
    env = {key: value for key, value in os.environ.items() if key not in _GIT_LOCATION_VARIABLES}
    argv, env = git_process(root, ("--literal-pathspecs", "-C", str(root), *args), env)
    try:
        return subprocess.run(argv, capture_output=True, check=False, env=env)
    except FileNotFoundError:
        return None


def _stderr(done: subprocess.CompletedProcess[bytes]) -> str:
    lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
    return lines[-1] if lines else f"exit status {done.returncode}"


@dataclass(frozen=True)
class RepoFiles:
    """Reads repository files by repo-relative POSIX path: from the working tree, or from `commit` when set.

    A file that does not exist there is `None` ("absent"), never an error:
    every one of these files is optional.
    """

    root: Path
    ref: str = ""
    """The ref as the user gave it (for messages); "" reads the working tree."""
    commit: str = ""
    prefix: str = ""
    """`root`'s path inside the git work tree ('' at the top), because git paths start at the top."""

    def read_bytes(self, relpath: str) -> bytes | None:
        if not self.ref:
            if not os.path.lexists(self.root / relpath):
                return None
            try:  # never through a symlink or into a FIFO: the repository is not trusted
                return read_contained(self.root, relpath).data
            except OutsideRepository as error:
                raise ClaudebuildError(f"cannot read {relpath}: {error.strerror}; the repository's settings files "
                                       "must be regular files inside it") from error
            except OSError as error:
                raise ClaudebuildError(f"cannot read {relpath}: {error.strerror}") from error
        spec = f"{self.commit}:{self.prefix}{PurePosixPath(relpath).as_posix()}"
        done = run_git(self.root, "cat-file", "blob", spec)
        if done is None:
            raise ClaudebuildError(f"git is not installed, and {CONFIG_FROM_HINT} needs it to read {relpath}")
        if done.returncode == 0:
            return done.stdout
        message = _stderr(done)
        if any(marker in message for marker in _ABSENT_MARKERS):
            return None
        if "promisor remote" in message:  # a partial clone: claudebuild's git calls allow no transport
            raise ClaudebuildError(f"cannot read {relpath} from {self.ref}: this partial clone has not fetched it, "
                                   f"and claudebuild never fetches: run `git show {spec}` once, then retry")
        raise ClaudebuildError(f"cannot read {relpath} from {self.ref}: {message}")

    def read_text(self, relpath: str) -> str | None:
        data = self.read_bytes(relpath)
        if data is None:
            return None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ClaudebuildError(f"{self.label(relpath)} is not UTF-8 ({error.reason}): save it as UTF-8") from None

    def label(self, relpath: str) -> str:
        """Where a value came from, for messages and `claudebuild config`: `claudebuild.toml @ origin/main`."""
        return f"{relpath} @ {self.ref}" if self.ref else relpath


CHANGED_SINCE_HINT = "--changed-since"


@dataclass(frozen=True)
class ChangedFiles:
    """What a pull request changed: files (relative to the root, under it) that differ from the merge base."""

    ref: str
    base: str
    """The merge base of HEAD and `ref` (a full commit id)."""
    paths: frozenset[str]


def changed_since(root: Path, ref: str) -> ChangedFiles:
    """Files changed since the merge base of HEAD and `ref`: committed, staged, unstaged or untracked (not
    ignored), deleted ones left out. A bad `ref`, no git, or no common history is a one-line error."""
    if not ref or ref.startswith("-"):
        raise ClaudebuildError(f"{CHANGED_SINCE_HINT} {ref!r} is not a git ref: name a branch, tag or commit, e.g. origin/main")
    found = run_git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if found is None:
        raise ClaudebuildError(f"git is not installed, and {CHANGED_SINCE_HINT} {ref} needs it: install git")
    if found.returncode != 0 or not found.stdout.strip():
        where = run_git(root, "rev-parse", "--show-prefix")
        if where is None or where.returncode != 0:
            raise ClaudebuildError(f"{CHANGED_SINCE_HINT} {ref} needs a git repository, and {root} is not in one")
        raise ClaudebuildError(f"{CHANGED_SINCE_HINT} {ref!r} is not a commit in this repository: fetch it first "
                               "(e.g. `git fetch origin main`) or name an existing branch, tag or commit")
    commit = found.stdout.decode().strip()
    merge_base = run_git(root, "merge-base", "HEAD", commit)
    if merge_base is None or merge_base.returncode != 0 or not merge_base.stdout.strip():
        raise ClaudebuildError(f"{CHANGED_SINCE_HINT} {ref}: HEAD and {ref} share no history here (a shallow clone?): "
                               "fetch more history, e.g. `git fetch --unshallow` or actions/checkout with fetch-depth: 0")
    base = merge_base.stdout.decode().strip()
    paths: set[str] = set()
    for args in (("diff", "--no-ext-diff", "--no-textconv", "--ignore-submodules=dirty", "--name-only", "-z", "--relative",
                  "--no-renames", "--diff-filter=d", base, "--"),
                 ("ls-files", "--others", "--exclude-standard", "-z")):
        done = run_git(root, *args)
        if done is None or done.returncode != 0:
            raise ClaudebuildError(f"{CHANGED_SINCE_HINT} {ref}: git {args[0]} failed: "
                                   f"{_stderr(done) if done else 'git is not installed'}")
        paths.update(os.fsdecode(item) for item in done.stdout.split(b"\0") if item)
    return ChangedFiles(ref, base, frozenset(paths))


def worktree_prefix(root: Path) -> str:
    """Where `root` is inside its git work tree (`services/api/`; '' at the top, without git or outside a work tree)."""
    done = run_git(root, "rev-parse", "--show-prefix")
    if done is None or done.returncode != 0:
        return ""
    return done.stdout.decode("utf-8", "surrogateescape").strip()


def open_repo_files(root: Path, ref: str = "") -> RepoFiles:
    """The reader for `root`; with `ref`, checks that it names a commit (else a one-line error)."""
    if not ref:
        return RepoFiles(root)
    if ref.startswith("-"):
        raise ClaudebuildError(f"{CONFIG_FROM_HINT} {ref!r} is not a git ref: name a branch, tag or commit")
    where = run_git(root, "rev-parse", "--show-prefix")
    if where is None:
        raise ClaudebuildError(f"git is not installed, and {CONFIG_FROM_HINT} {ref} needs it: install git")
    if where.returncode != 0:
        raise ClaudebuildError(f"{CONFIG_FROM_HINT} {ref} needs a git repository, and {root} is not in one")
    found = run_git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if found is None or found.returncode != 0 or not found.stdout.strip():
        raise ClaudebuildError(f"{CONFIG_FROM_HINT} {ref!r} is not a commit in this repository: "
                               "fetch it first (e.g. `git fetch origin main`) or name an existing branch, tag or commit")
    prefix = where.stdout.decode("utf-8", "surrogateescape").strip()
    return RepoFiles(root, ref, found.stdout.decode().strip(), prefix)


def ensure_untracked_state(root: Path, state_dir: str) -> bool:
    """Refuse a state directory outside `root` or holding files tracked by git; False when git cannot tell.

    Cached results decide what is analyzed again and what the report says; a
    database a commit could have written would let the change under review
    forge them. Without git (or outside a work tree) nothing can be committed:
    `repo/state_dir.py` then tells claudebuild's own state dir from one that came with the files.
    """
    real_root = Path(os.path.realpath(root))
    real_state = Path(os.path.realpath(root / state_dir))
    if real_state == real_root or not real_state.is_relative_to(real_root):
        raise ClaudebuildError(f"state_dir {state_dir!r} is not inside the repository {root}: "
                               'use a directory inside it, e.g. state_dir = ".claudebuild"')
    for candidate in dict.fromkeys((state_dir, real_state.relative_to(real_root).as_posix())):
        done = run_git(root, "ls-files", "-z", "--", candidate)
        if done is None or done.returncode != 0:
            return False  # no git, or not a work tree: no commit can hold the state
        tracked = [item for item in done.stdout.split(b"\0") if item]
        if tracked:
            name = state_dir.strip("/")
            raise ClaudebuildError(
                f"{name}/ holds files tracked by git ({os.fsdecode(tracked[0])}), so a commit could forge its cached "
                f"results: run `git rm -r --cached {name}`, delete {name}/ and add {name}/ to .gitignore")
    return True
