"""No program named by the reviewed repository's own git setup ever runs: `.git/config` (which an unpacked
archive or a copied tree brings along, with whatever it includes), `.git/hooks`, a submodule's config, or the
remote a partial clone would fetch missing objects from. Each test plants a program that leaves a marker file
and makes claudebuild's git calls take the path that would start it. (`core.fsmonitor`: tests/test_trust_config.py.)"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from claudebuild.commands.hook import install_hook
from claudebuild.errors import ClaudebuildError
from claudebuild.repo.git import changed_since, git_process, open_repo_files
from claudebuild.repo.history import commit_subject, export_commit
from claudebuild.repo.staged import GitIndex, staged_paths
from claudebuild.repo.tree_state import read_tree_state
from claudebuild.pipeline.candidates import list_candidates
from conftest import git


@pytest.fixture
def repo(app_git_repo: Path) -> Path:
    return app_git_repo


@pytest.fixture
def ran(tmp_path: Path) -> Path:
    """The marker file every planted program appends to."""
    return tmp_path / "ran"


def program(tmp_path: Path, ran: Path, name: str) -> str:
    """A program that notes it ran, then passes its input through (as a filter or textconv would)."""
    path = tmp_path / f"{name}.sh"
    path.write_text(f'#!/bin/sh\necho {name} >> {ran}\nexec cat "$@"\n')
    path.chmod(0o755)
    return str(path)


def commit_all(root: Path, message: str = "change") -> str:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD")


def make_stat_dirty(root: Path, name: str) -> None:
    """Rewrite the same bytes with a new mtime: git can only tell the file is unchanged by hashing it again."""
    path = root / name
    path.write_bytes(path.read_bytes())
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))


def with_evil_filter(root: Path, tmp_path: Path, ran: Path, driver: str = "evil") -> str:
    """Every file filtered by `driver`, whose programs the repository's own `.git/config` names; the base commit."""
    (root / ".gitattributes").write_text(f"* filter={driver}\n")
    base = commit_all(root, "base")
    for key in ("clean", "smudge"):
        git(root, "config", f"filter.{driver}.{key}", program(tmp_path, ran, key))
    make_stat_dirty(root, "app.py")
    return base


def test_a_filter_program_never_runs_when_git_status_hashes_a_stat_dirty_file(repo: Path, tmp_path: Path, ran: Path) -> None:
    with_evil_filter(repo, tmp_path, ran)
    state = read_tree_state(repo)
    assert not ran.exists()
    assert state is not None and "app.py" not in dict(state.files)  # its raw bytes match the index: clean


def test_a_filter_program_never_runs_when_changed_since_compares_the_work_tree(repo: Path, tmp_path: Path, ran: Path) -> None:
    with_evil_filter(repo, tmp_path, ran)
    assert changed_since(repo, "HEAD").paths == frozenset()
    assert not ran.exists()


def test_a_smudge_program_never_runs_when_a_past_commit_is_exported(repo: Path, tmp_path: Path, ran: Path) -> None:
    base = with_evil_filter(repo, tmp_path, ran)
    export_commit(repo, base, tmp_path / "export")
    assert (tmp_path / "export/app.py").read_text() == "x = 1\n"
    assert not ran.exists()


def test_discovery_and_the_hooks_staged_read_never_run_a_filter_program(repo: Path, tmp_path: Path, ran: Path) -> None:
    with_evil_filter(repo, tmp_path, ran)
    (repo / "new.py").write_text("y = 2\n")
    git(repo, "-c", "filter.evil.clean=cat", "add", "new.py")
    make_stat_dirty(repo, "new.py")
    assert list_candidates(repo, lambda path: None)[0] == [".gitattributes", "app.py", "new.py"]
    assert staged_paths(repo) == ["new.py"]
    index = GitIndex(repo)
    index.load(["new.py"])
    assert index.read("new.py") == b"y = 2\n"
    assert not ran.exists()


def test_a_filter_defined_in_a_file_the_git_config_includes_never_runs(repo: Path, tmp_path: Path, ran: Path) -> None:
    (repo / ".gitattributes").write_text("* filter=evil\n")
    commit_all(repo, "base")
    included = tmp_path / "more.config"
    included.write_text(f'[filter "evil"]\n\tclean = {program(tmp_path, ran, "clean")}\n\tprocess = {program(tmp_path, ran, "process")}\n')
    git(repo, "config", "include.path", str(included))
    make_stat_dirty(repo, "app.py")
    assert read_tree_state(repo) is not None
    assert not ran.exists()


def test_a_filter_driver_whose_name_holds_an_equals_sign_never_runs(repo: Path, tmp_path: Path, ran: Path) -> None:
    with_evil_filter(repo, tmp_path, ran, driver="a=b")  # `-c filter.a=b.clean=` would set `filter.a`
    assert read_tree_state(repo) is not None
    assert not ran.exists()


def test_a_filter_in_a_submodules_own_config_never_runs(repo: Path, tmp_path: Path, ran: Path) -> None:
    library = tmp_path / "library"
    library.mkdir()
    git(library, "init", "-q", "-b", "main")
    (library / "lib.py").write_text("z = 3\n")
    (library / ".gitattributes").write_text("* filter=evil\n")
    commit_all(library, "library")
    git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(library), "lib")
    commit_all(repo, "base")
    git(repo / "lib", "config", "filter.evil.clean", program(tmp_path, ran, "clean"))
    make_stat_dirty(repo / "lib", "lib.py")
    assert read_tree_state(repo) is not None
    assert changed_since(repo, "HEAD").paths == frozenset()
    assert not ran.exists()


def test_no_textconv_or_external_diff_program_runs_in_any_diff_call(repo: Path, tmp_path: Path, ran: Path) -> None:
    (repo / ".gitattributes").write_text("* diff=evil\n")
    base = commit_all(repo, "base")
    git(repo, "config", "diff.evil.textconv", program(tmp_path, ran, "textconv"))
    git(repo, "config", "diff.evil.command", program(tmp_path, ran, "command"))
    git(repo, "config", "diff.external", program(tmp_path, ran, "external"))
    (repo / "app.py").write_text("x = 2\n")
    git(repo, "add", "app.py")
    assert changed_since(repo, base).paths == frozenset({"app.py"})
    assert staged_paths(repo) == ["app.py"]
    assert not ran.exists()


def test_a_hook_in_the_repositorys_git_directory_never_runs(repo: Path, tmp_path: Path, ran: Path) -> None:
    base = commit_all(repo, "base")
    hook = repo / ".git/hooks/post-index-change"  # `git diff` against the work tree rewrites the index
    hook.write_text(f"#!/bin/sh\necho hook >> {ran}\n")
    hook.chmod(0o755)
    make_stat_dirty(repo, "app.py")
    assert changed_since(repo, base).paths == frozenset()
    assert not ran.exists()


def test_a_signature_program_never_runs_when_a_commit_subject_is_read(repo: Path, tmp_path: Path, ran: Path) -> None:
    commit_all(repo, "base")
    signed = (f"tree {git(repo, 'rev-parse', 'HEAD^{tree}')}\nauthor t <t@example.com> 1 +0000\n"
              "committer t <t@example.com> 1 +0000\ngpgsig -----BEGIN PGP SIGNATURE-----\n \n abc\n"
              " -----END PGP SIGNATURE-----\n\nsigned\n")
    (tmp_path / "commit").write_text(signed)
    commit = git(repo, "hash-object", "-t", "commit", "-w", str(tmp_path / "commit"))
    git(repo, "config", "log.showSignature", "true")
    git(repo, "config", "gpg.program", program(tmp_path, ran, "gpg"))
    assert commit_subject(repo, commit) == "signed"
    assert not ran.exists()


def test_a_partial_clone_never_fetches_a_missing_object_with_the_remotes_program(tmp_path: Path, ran: Path) -> None:
    origin = tmp_path / "origin"
    origin.mkdir()
    git(origin, "init", "-q", "-b", "main")
    git(origin, "config", "uploadpack.allowFilter", "true")
    (origin / "claudebuild.toml").write_text("jobs = 1\n")
    commit_all(origin, "old settings")
    (origin / "claudebuild.toml").write_text("jobs = 2\n")
    commit_all(origin, "new settings")
    git(tmp_path, "clone", "-q", "--filter=blob:none", "--no-local", f"file://{origin}", "clone")
    clone = tmp_path / "clone"
    uploadpack = tmp_path / "uploadpack.sh"  # the repository's config names the program a fetch starts
    uploadpack.write_text(f'#!/bin/sh\necho uploadpack >> {ran}\nexec git-upload-pack "$@"\n')
    uploadpack.chmod(0o755)
    git(clone, "config", "remote.origin.uploadpack", str(uploadpack))
    git(clone, "config", "protocol.file.allow", "always")
    with pytest.raises(ClaudebuildError, match="partial clone has not fetched it") as error:
        open_repo_files(clone, "HEAD~1").read_text("claudebuild.toml")  # its blob was never fetched
    assert not ran.exists()
    assert "`git show " in str(error.value)


def test_the_hook_is_installed_where_the_repositorys_hooks_path_says(repo: Path) -> None:
    git(repo, "config", "core.hooksPath", ".githooks")  # as husky sets it
    assert install_hook(repo) == repo / ".githooks/pre-commit"


def test_the_users_own_git_config_environment_settings_stay_and_the_overrides_follow_them(repo: Path) -> None:
    git(repo, "config", "filter.evil.clean", "evil")
    user = {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "user.name", "GIT_CONFIG_VALUE_0": "me"}
    env = git_process(repo, ("status",), {**os.environ, **user})[1]
    assert env["GIT_CONFIG_KEY_0"] == "user.name" and env["GIT_CONFIG_VALUE_0"] == "me"
    assert (env["GIT_CONFIG_KEY_1"], env["GIT_CONFIG_VALUE_1"]) == ("filter.evil.clean", "")
    assert env["GIT_CONFIG_COUNT"] == "5"


def test_a_filter_driver_from_the_users_own_global_config_is_left_to_run(repo: Path, tmp_path: Path) -> None:
    global_config = tmp_path / "gitconfig"
    global_config.write_text('[filter "lfs"]\n\tclean = git-lfs clean -- %f\n')  # the user installed it
    env = git_process(repo, ("status",), {**os.environ, "GIT_CONFIG_GLOBAL": str(global_config)})[1]
    assert "GIT_CONFIG_COUNT" not in env


def test_a_core_worktree_pointing_elsewhere_is_refused_with_the_fix(repo: Path, tmp_path: Path) -> None:
    commit_all(repo, "base")
    (tmp_path / "elsewhere").mkdir()
    git(repo, "config", "core.worktree", str(tmp_path / "elsewhere"))  # git would list that directory's files
    with pytest.raises(ClaudebuildError, match=r"sets core.worktree to .*elsewhere") as error:
        list_candidates(repo, lambda path: None)
    assert "git config --unset core.worktree" in str(error.value)


def test_a_submodules_core_worktree_naming_its_own_directory_is_accepted(repo: Path, tmp_path: Path) -> None:
    library = tmp_path / "library"
    library.mkdir()
    git(library, "init", "-q", "-b", "main")
    (library / "lib.py").write_text("z = 3\n")
    commit_all(library, "library")
    git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(library), "lib")
    assert "core.worktree" in git(repo / "lib", "config", "--local", "--list")
    assert list_candidates(repo / "lib", lambda path: None)[0] == ["lib.py"]
