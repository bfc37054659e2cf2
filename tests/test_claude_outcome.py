"""The outcome classification follows ../shared/claude-cli-contract.md exactly."""

from __future__ import annotations

import orjson
import pytest

from claudebuild.claude import outcome as claude
from claudebuild.claude.outcome import classify


def result(**fields: object) -> bytes:
    base: dict[str, object] = {
        "type": "result", "subtype": "success", "is_error": False, "api_error_status": None,
        "result": "", "session_id": "abc", "total_cost_usd": 0.01,
        "usage": {"input_tokens": 100, "output_tokens": 20}, "duration_ms": 1200,
    }
    base.update(fields)
    return orjson.dumps(base)


def test_success_with_structured_findings_is_ok() -> None:
    outcome = classify(0, result(structured_output={"findings": []}), b"")
    assert outcome.kind == claude.OK
    assert outcome.session_id == "abc"
    assert outcome.cost_usd == pytest.approx(0.01)
    assert outcome.input_tokens == 100


def test_success_without_structured_output_is_bad_output() -> None:
    assert classify(0, result(result="I looked at it"), b"").kind == claude.BAD_OUTPUT


def test_findings_that_are_not_a_list_are_bad_output() -> None:
    assert classify(0, result(structured_output={"findings": "none"}), b"").kind == claude.BAD_OUTPUT


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504, 529])
def test_throttling_and_server_errors_are_retried(status: int) -> None:
    stdout = result(is_error=True, api_error_status=status, result=f"API Error: {status}", total_cost_usd=0)
    assert classify(1, stdout, b"").kind == claude.RETRY


@pytest.mark.parametrize("status", [401, 403])
def test_auth_errors_stop_the_run(status: int) -> None:
    assert classify(1, result(is_error=True, api_error_status=status, result="API Error"), b"").kind == claude.AUTH


def test_a_model_not_found_stops_the_run() -> None:
    answer = result(is_error=True, api_error_status=404, result="There's an issue with the selected model (claude-x).")
    assert classify(1, answer, b"").kind == claude.MODEL


def test_not_logged_in_is_an_auth_error() -> None:
    assert classify(1, result(is_error=True, result="Not logged in"), b"").kind == claude.AUTH


def test_413_and_prompt_too_long_mean_split_the_chunk() -> None:
    assert classify(1, result(is_error=True, api_error_status=413, result="API Error: 413"), b"").kind == claude.TOO_LARGE
    too_long = result(is_error=True, api_error_status=400, result="API Error: 400 prompt is too long: 300000 tokens")
    assert classify(1, too_long, b"").kind == claude.TOO_LARGE


def test_400_fails_the_chunk_with_the_api_message() -> None:
    outcome = classify(1, result(is_error=True, api_error_status=400, result="API Error: 400 bad thing"), b"")
    assert outcome.kind == claude.BAD_REQUEST
    assert "bad thing" in outcome.message


def test_network_errors_without_status_are_retried() -> None:
    stdout = result(is_error=True, result="Unable to connect to API (ConnectionRefused)")
    assert classify(1, stdout, b"").kind == claude.RETRY


def test_empty_stdout_is_a_cli_error_with_the_stderr_message() -> None:
    outcome = classify(1, b"", b"Error: Session ID abc is already in use\n")
    assert outcome.kind == claude.CLI_ERROR
    assert "already in use" in outcome.message


def test_sigterm_is_an_interruption() -> None:
    assert classify(143, b"", b"").kind == claude.INTERRUPTED


def test_garbage_stdout_is_bad_output() -> None:
    assert classify(0, b"{not json", b"").kind == claude.BAD_OUTPUT


def test_max_turns_and_structured_retries_are_bad_output() -> None:
    for subtype in ("error_max_turns", "error_max_structured_output_retries"):
        assert classify(1, result(subtype=subtype, is_error=True), b"").kind == claude.BAD_OUTPUT


def test_budget_exceeded_is_its_own_outcome() -> None:
    assert classify(1, result(subtype="error_max_budget_usd", is_error=True), b"").kind == claude.BUDGET


def test_our_timeout_wins_over_whatever_was_printed() -> None:
    assert classify(-9, b"", b"", timed_out=True).kind == claude.TIMEOUT
