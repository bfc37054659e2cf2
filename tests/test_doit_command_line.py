"""Which plain `doit` command lines may be shown only the chunks that can be stale (`runs_only_groups`)."""

from __future__ import annotations

import pytest

from claudebuild.engine.loader import parallel_calls, runs_only_groups

GROUPS = frozenset({"analyze", "report", "verify", "security"})
DOIT = "/venv/bin/doit"
DOIT_MODULE = "/venv/lib/python3.11/site-packages/doit/__main__.py"


@pytest.mark.parametrize("argv", [
    [DOIT], [DOIT, "-n", "5", "analyze"], [DOIT_MODULE, "-n", "5", "analyze"], [DOIT, "report"],
    [DOIT, "run", "-n", "2", "analyze", "report"], [DOIT, "-f", "dodo.py", "run", "security"],
    [DOIT, "-n", "5", "MODE=x", "analyze"],
])
def test_running_group_tasks_shows_doit_only_the_stale_chunks(argv: list[str]) -> None:
    assert runs_only_groups(argv, GROUPS)


@pytest.mark.parametrize("argv", [
    [DOIT, "list", "--all"], [DOIT, "info", "analyze:a.py"], [DOIT, "forget"], [DOIT, "ignore", "analyze:a.py"],
    [DOIT, "analyze:a.py"], [DOIT, "run", "analyze:a.py"], [DOIT, "-a", "analyze"], [DOIT, "--always-execute"],
    [DOIT, "-n", "5", "--no-such-option"], ["/usr/bin/claudebuild", "analyze"], [],
])
def test_any_other_command_line_shows_doit_every_chunk(argv: list[str]) -> None:
    assert not runs_only_groups(argv, GROUPS)


@pytest.mark.parametrize(("argv", "workers"), [(["doit", "-n", "5", "analyze"], 5), (["doit", "run", "-n", "3", "analyze"], 3),
                                              (["doit"], 1), (["doit", "list"], 1), (["python"], 1)])
def test_the_parallel_calls_are_doits_own_n(argv: list[str], workers: int) -> None:
    assert parallel_calls(argv, GROUPS) == workers
