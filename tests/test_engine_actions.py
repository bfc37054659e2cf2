"""The engine is where run/'s plain results and failures become doit's: a `StepFailed` is a failed task."""

from __future__ import annotations

import pytest
from doit.exceptions import TaskFailed

from claudebuild.engine.tasks import doit_action
from claudebuild.errors import ClaudebuildError, StepFailed


def test_a_step_that_fails_becomes_a_failed_doit_task_with_its_message() -> None:
    def step() -> None:
        raise StepFailed("2 chunk(s) failed")

    outcome = doit_action(step)()

    assert isinstance(outcome, TaskFailed) and "2 chunk(s) failed" in str(outcome)


def test_a_steps_value_reaches_doit_unchanged() -> None:
    assert doit_action(lambda: {"status": "ok"})() == {"status": "ok"}


def test_any_other_error_is_left_to_doit_and_the_error_boundary() -> None:
    def step() -> None:
        raise ClaudebuildError("the CLI is missing")

    with pytest.raises(ClaudebuildError):
        doit_action(step)()


def test_the_action_keeps_the_steps_name_for_doits_output() -> None:
    def analyze_app() -> None:
        return None

    assert doit_action(analyze_app).__name__ == "analyze_app"
