"""The fake API over HTTP (urllib only, no CLI): protocol, request log, latency, cap, faults, control."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from claudebuild.fakeapi import FakeAnthropicServer, Fault, review

SCHEMA = {"type": "object", "required": ["findings"], "properties": {"findings": {"type": "array"}}}
CHUNK = (
    'Fence boundary: @@1\n@@1 "src/app/db.py"\n'
    'import os\npassword = "hunter2-secret"\neval(x)\n@@1 end\n'
)
REMINDER = "<system-reminder>\nToday's date is 2026-01-01.\n</system-reminder>\n\n"


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    data: bytes

    def json(self) -> Any:
        return json.loads(self.data)

    def events(self) -> list[tuple[str, dict[str, Any]]]:
        """Parse an SSE body into (event name, data) pairs."""
        parsed = []
        for block in self.data.decode().split("\n\n"):
            if block.strip():
                name, data = block.split("\n", 1)
                parsed.append((name.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
        return parsed


def call(api: FakeAnthropicServer, method: str, path: str, body: Any = None, *, timeout: float = 10,
         headers: dict[str, str] | None = None) -> Response:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(api.url + path, data=data, method=method,
                                     headers={"content-type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return Response(answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.read())
    except urllib.error.HTTPError as error:
        return Response(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read())


def messages_body(*texts: str, tool: bool = True, stream: bool = True, model: str = "claude-sonnet-4-5") -> dict:
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": 32000,
        "system": [{"type": "text", "text": "You review code."}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": t} for t in (REMINDER, *texts)]}],
        "tools": [{"name": "StructuredOutput", "description": "d", "input_schema": SCHEMA}] if tool else [],
    }
    if stream:
        body["stream"] = True
    return body


def post(api: FakeAnthropicServer, body: dict, **kwargs: Any) -> Response:
    return call(api, "POST", "/v1/messages?beta=true", body, **kwargs)


def tool_input(response: Response) -> dict[str, Any]:
    pieces = [d["delta"]["partial_json"] for n, d in response.events() if n == "content_block_delta"]
    return json.loads("".join(pieces))


def streamed_text(response: Response) -> str:
    return "".join(d["delta"]["text"] for n, d in response.events() if n == "content_block_delta")


# -- protocol -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["HEAD", "GET"])
def test_root_answers_200_for_the_clis_connectivity_check(api: FakeAnthropicServer, method: str) -> None:
    assert call(api, method, "/").status == 200


def test_structured_output_request_streams_one_tool_call_with_the_reviewers_findings(api: FakeAnthropicServer) -> None:
    response = post(api, messages_body("Review these files.\n" + CHUNK))
    events = response.events()
    start = events[1][1]["content_block"]

    assert response.status == 200 and response.headers["content-type"].startswith("text/event-stream")
    assert (start["type"], start["name"], start["id"][:6]) == ("tool_use", "StructuredOutput", "toolu_")
    assert tool_input(response) == {"findings": review(CHUNK)}
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"


def test_non_streaming_request_gets_one_json_message(api: FakeAnthropicServer) -> None:
    message = post(api, messages_body(CHUNK, stream=False)).json()

    assert (message["type"], message["role"], message["stop_reason"]) == ("message", "assistant", "tool_use")
    assert message["content"][0]["input"] == {"findings": review(CHUNK)}


def test_the_requested_model_is_echoed(api: FakeAnthropicServer) -> None:
    response = post(api, messages_body(CHUNK, model="claude-opus-4-1"))

    assert response.events()[0][1]["message"]["model"] == "claude-opus-4-1"


def test_without_the_structured_output_tool_the_answer_is_text_about_the_conversation(
        api: FakeAnthropicServer) -> None:
    body = messages_body(CHUNK, tool=False)
    body["messages"] += [{"role": "assistant", "content": [{"type": "text", "text": "Done."}]},
                         {"role": "user", "content": [{"type": "text", "text": "Why is line 2 a problem?"}]}]
    response = post(api, body)
    text = streamed_text(response)

    assert response.events()[-2][1]["delta"]["stop_reason"] == "end_turn"
    assert "1 file(s) (src/app/db.py) with 2 finding(s)" in text
    assert "src/app/db.py:2 high security/hardcoded-password" in text
    assert text.endswith("You asked: Why is line 2 a problem?")


def test_usage_counts_one_token_per_four_characters(api: FakeAnthropicServer) -> None:
    body = messages_body("x" * 4000, stream=False)
    usage = post(api, body).json()["usage"]

    assert 1000 < usage["input_tokens"] < 1100
    assert usage["output_tokens"] == 4  # '{"findings": []}' is 16 characters
    assert usage["cache_creation_input_tokens"] == usage["cache_read_input_tokens"] == 0


def test_unknown_paths_are_logged_and_answered_404_with_an_anthropic_error(api: FakeAnthropicServer) -> None:
    response = call(api, "GET", "/v1/models")

    assert response.status == 404
    assert response.json()["type"] == "error" and response.json()["error"]["type"] == "not_found_error"
    assert [(r.method, r.path, r.status) for r in api.requests] == [("GET", "/v1/models", 404)]


def test_count_tokens_is_answered_with_the_same_estimate(api: FakeAnthropicServer) -> None:
    body = messages_body("x" * 400, stream=False)

    assert call(api, "POST", "/v1/messages/count_tokens", body).json() == {
        "input_tokens": post(api, body).json()["usage"]["input_tokens"]}


def test_a_body_that_is_not_json_gets_400(api: FakeAnthropicServer) -> None:
    request = urllib.request.Request(api.url + "/v1/messages", data=b"{not json", method="POST")
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request, timeout=5)

    assert error.value.code == 400
    assert api.requests[0].body == "{not json"


# -- request log --------------------------------------------------------------------------------------------


def test_the_log_records_headers_body_user_text_and_status(api: FakeAnthropicServer) -> None:
    post(api, messages_body(CHUNK), headers={"X-Claude-Code-Session-Id": "sess-1", "x-api-key": "sk-ant-x"})
    [entry] = api.message_requests()

    assert (entry.method, entry.path, entry.status, entry.fault) == ("POST", "/v1/messages?beta=true", 200, None)
    assert entry.session_id == "sess-1" and api.session_ids() == ["sess-1"]
    assert entry.headers["x-api-key"] == "<redacted>"
    assert entry.body["model"] == "claude-sonnet-4-5"
    assert entry.user_text == REMINDER + "\n" + CHUNK
    assert entry.wall_time > 0 and entry.monotonic > 0


def test_received_text_holds_the_user_text_of_every_messages_request(api: FakeAnthropicServer) -> None:
    post(api, messages_body("first " + CHUNK))
    post(api, messages_body("second"))
    call(api, "HEAD", "/")

    assert "hunter2-secret" in api.received_text()
    assert "first" in api.received_text() and "second" in api.received_text()
    assert len(api.message_requests()) == 2 and len(api.requests) == 3


def test_reset_forgets_requests_faults_and_outages(api: FakeAnthropicServer) -> None:
    api.faults = [Fault(status=500)]
    api.start_outage(60)
    post(api, messages_body(CHUNK))
    api.reset()

    assert api.requests == [] and api.faults == []
    assert post(api, messages_body(CHUNK)).status == 200


# -- latency and concurrency --------------------------------------------------------------------------------


def test_latency_delays_every_messages_answer(api: FakeAnthropicServer) -> None:
    api.latency = 0.3
    started = time.monotonic()
    post(api, messages_body(CHUNK))

    assert time.monotonic() - started >= 0.3


def test_a_request_over_the_concurrency_cap_gets_429_with_retry_after(api: FakeAnthropicServer) -> None:
    api.configure(latency=0.5, max_concurrent=1, retry_after=2)
    first: list[Response] = []
    thread = threading.Thread(target=lambda: first.append(post(api, messages_body(CHUNK))))
    thread.start()
    deadline = time.monotonic() + 30  # a deadline, not a hang, if the request never arrives
    while api.in_flight == 0:
        assert time.monotonic() < deadline, "the request never reached the server"
        time.sleep(0.01)
    second = post(api, messages_body(CHUNK))
    thread.join()

    assert first[0].status == 200
    assert second.status == 429 and second.headers["retry-after"] == "2"
    assert second.json()["error"]["type"] == "rate_limit_error"
    assert [r.fault for r in api.message_requests()] == [None, "concurrency"]
    assert api.peak_in_flight == 1


# -- faults -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_type"),
    [(400, "invalid_request_error"), (401, "authentication_error"), (403, "permission_error"),
     (413, "request_too_large"), (429, "rate_limit_error"), (500, "api_error"), (529, "overloaded_error")],
)
def test_an_error_fault_answers_its_status_with_an_anthropic_error_body(
        api: FakeAnthropicServer, status: int, error_type: str) -> None:
    api.faults = [Fault(status=status)]
    response = post(api, messages_body(CHUNK))

    assert response.status == status
    assert response.json()["type"] == "error" and response.json()["error"]["type"] == error_type
    assert ("retry-after" in response.headers) == (status in (429, 529))


def test_an_error_fault_can_forbid_retries_and_set_retry_after(api: FakeAnthropicServer) -> None:
    api.faults = [Fault(status=500, retry_after=0.5, should_retry=False)]
    response = post(api, messages_body(CHUNK))

    assert (response.headers["retry-after"], response.headers["x-should-retry"]) == ("0.5", "false")


def test_a_fault_names_itself_in_the_request_log(api: FakeAnthropicServer) -> None:
    api.faults = [Fault(name="db-only 401", match="db.py", status=401, times=1)]
    post(api, messages_body(CHUNK))
    post(api, messages_body(CHUNK))

    assert [(r.status, r.fault) for r in api.message_requests()] == [(401, "db-only 401"), (200, None)]


def test_a_hang_fault_delays_the_answer(api: FakeAnthropicServer) -> None:
    api.faults = [Fault(hang=0.3)]
    started = time.monotonic()

    assert post(api, messages_body(CHUNK)).status == 200
    assert time.monotonic() - started >= 0.3


def test_a_hang_longer_than_the_client_timeout_times_the_client_out(api: FakeAnthropicServer) -> None:
    api.faults = [Fault(hang=30)]

    with pytest.raises(TimeoutError):
        post(api, messages_body(CHUNK), timeout=0.3)
    assert api.message_requests()[0].fault == "hang"


def test_stop_returns_promptly_while_a_request_hangs() -> None:
    server = FakeAnthropicServer(faults=[Fault(hang=60)]).start()
    outcome: list[BaseException] = []

    def client() -> None:
        try:
            post(server, messages_body(CHUNK))
        except (http.client.HTTPException, OSError) as error:  # the server drops the hanging request
            outcome.append(error)

    thread = threading.Thread(target=client)
    thread.start()
    deadline = time.monotonic() + 30  # a deadline, not a hang, if the request never arrives
    while server.in_flight == 0:
        assert time.monotonic() < deadline, "the request never reached the server"
        time.sleep(0.01)
    started = time.monotonic()
    server.stop()
    thread.join(timeout=5)

    assert time.monotonic() - started < 2
    assert not thread.is_alive() and len(outcome) == 1
    assert server.requests[0].status is None  # never answered


def test_a_text_only_fault_answers_text_although_the_tool_is_offered(api: FakeAnthropicServer) -> None:
    api.faults = [Fault(text_only=True)]
    response = post(api, messages_body(CHUNK))

    assert response.events()[1][1]["content_block"]["type"] == "text"
    assert "StructuredOutput" in streamed_text(response)


def test_an_invalid_tool_input_fault_sends_findings_that_break_the_schema(api: FakeAnthropicServer) -> None:
    api.faults = [Fault(invalid_tool_input=True)]
    [finding] = tool_input(post(api, messages_body(CHUNK)))["findings"]

    assert finding["line"] == 0 and "severity" not in finding


def test_a_findings_fault_replaces_the_reviewers_findings(api: FakeAnthropicServer) -> None:
    bad = [dict(review(CHUNK)[0], file="../etc/passwd", line=999)]
    api.faults = [Fault(findings=tuple(bad))]

    assert tool_input(post(api, messages_body(CHUNK))) == {"findings": bad}


def test_a_malformed_fault_cuts_the_stream_mid_json_and_closes_the_connection(api: FakeAnthropicServer) -> None:
    api.faults = [Fault(malformed=True)]
    connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=5)
    connection.request("POST", "/v1/messages", json.dumps(messages_body(CHUNK)))
    answer = connection.getresponse()

    with pytest.raises(http.client.IncompleteRead) as error:
        answer.read()
    assert error.value.partial.decode().rstrip().endswith(tuple("abcdefghijklmnopqrstuvwxyz\",:"))


def test_a_malformed_fault_truncates_a_non_streaming_json_body(api: FakeAnthropicServer) -> None:
    api.faults = [Fault(malformed=True)]

    with pytest.raises(http.client.IncompleteRead):
        post(api, messages_body(CHUNK, stream=False))


def test_an_outage_fails_every_request_in_its_window_then_recovers(api: FakeAnthropicServer) -> None:
    api.faults = [Fault(status=401, times=1)]
    api.start_outage(60, status=503)  # ended explicitly below: no dependence on how fast the requests are
    during = [post(api, messages_body(CHUNK)).status for _ in range(2)]
    api.end_outage()

    assert during == [503, 503]
    assert post(api, messages_body(CHUNK)).status == 401  # the outage did not use up the fault
    assert [r.fault for r in api.message_requests()] == ["outage", "outage", "status 401"]


# -- control endpoints --------------------------------------------------------------------------------------


def test_faults_can_be_set_over_http_and_requests_read_back(api: FakeAnthropicServer) -> None:
    assert call(api, "POST", "/_fake/faults", {"faults": [{"status": 529, "times": 1}]}).status == 200
    post(api, messages_body(CHUNK))
    logged = call(api, "GET", "/_fake/requests").json()["requests"]

    assert api.faults == [Fault(status=529, times=1)]
    assert [(r["path"], r["status"], r["fault"]) for r in logged] == [("/v1/messages?beta=true", 529, "status 529")]


def test_control_requests_are_not_logged(api: FakeAnthropicServer) -> None:
    call(api, "POST", "/_fake/config", {"latency": 0.1})
    call(api, "GET", "/_fake/faults")

    assert api.requests == [] and api.latency == 0.1


def test_outage_and_reset_work_over_http(api: FakeAnthropicServer) -> None:
    call(api, "POST", "/_fake/outage", {"seconds": 60, "status": 500})
    assert post(api, messages_body(CHUNK)).status == 500
    call(api, "POST", "/_fake/reset")

    assert post(api, messages_body(CHUNK)).status == 200 and len(api.requests) == 1


@pytest.mark.parametrize("payload", [[{"statsu": 500}], [{"status": 200}], {"x": 1}])
def test_bad_fault_lists_are_rejected_with_400_and_the_reason(api: FakeAnthropicServer, payload: Any) -> None:
    response = call(api, "POST", "/_fake/faults", payload)

    assert response.status == 400 and response.json()["error"]["message"]
    assert api.faults == []


# -- standalone process -------------------------------------------------------------------------------------


def test_the_module_runs_standalone_prints_its_url_and_stops_on_sigterm(tmp_path: Path) -> None:
    faults = tmp_path / "faults.json"
    faults.write_text(json.dumps([{"status": 529, "times": 1}]))
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    process = subprocess.Popen([sys.executable, "-m", "claudebuild.fakeapi", "--port", "0", "--latency", "0.01",
                                "--max-concurrent", "2", "--faults", str(faults)],
                               stdout=subprocess.PIPE, text=True, env=env)
    try:
        url = process.stdout.readline().strip() if process.stdout else ""
        statuses = []
        for _ in range(2):
            request = urllib.request.Request(url + "/v1/messages", json.dumps(messages_body(CHUNK)).encode())
            try:
                statuses.append(urllib.request.urlopen(request, timeout=5).status)
            except urllib.error.HTTPError as error:
                statuses.append(error.code)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert url.startswith("http://127.0.0.1:")
    assert statuses == [529, 200]
