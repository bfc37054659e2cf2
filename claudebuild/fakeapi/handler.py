"""HTTP plumbing: routing requests and writing answers as bytes.

The log entry is completed *before* the answer is written, so a client that
has read its response always finds the final status in the log. Only
transport lives here (status lines, headers, chunked SSE, dropping a
connection); what to answer is decided by `FakeAnthropicServer.answer_messages`
and the control endpoints by `claudebuild.fakeapi.control`. Responses use
HTTP/1.1 keep-alive like the real API, and SSE uses chunked transfer so a
"malformed" fault can end the body abruptly, exactly like a cut stream.
"""

from __future__ import annotations

import json
import logging
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from claudebuild.fakeapi import control
from claudebuild.fakeapi.conversation import request_chars, tokens_for, user_text
from claudebuild.fakeapi.faults import HttpError
from claudebuild.fakeapi.requestlog import LoggedRequest, select_headers
from claudebuild.fakeapi.sse import encode_event, error_body, malformed_stream, reply_events

if TYPE_CHECKING:
    from claudebuild.fakeapi.server import Answer, FakeAnthropicServer

logger = logging.getLogger("claudebuild.fakeapi")

MESSAGES_PATH = "/v1/messages"
COUNT_TOKENS_PATH = "/v1/messages/count_tokens"


class FakeHTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that knows its `FakeAnthropicServer` (state lives there, not in handlers)."""

    daemon_threads = True
    fake: FakeAnthropicServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log handler crashes through `logging` instead of printing to stderr, so tests see them in caplog."""
        logger.exception("fake API: unhandled error while serving %s", client_address)


class FakeHandler(BaseHTTPRequestHandler):
    """One connection; each request is routed to a control endpoint, a messages answer, or a 404."""

    protocol_version = "HTTP/1.1"
    timeout = 60  # idle keep-alive connections are closed after a minute instead of pinning a thread forever
    server: FakeHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("fake API: " + format, *args)

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    # -- routing -----------------------------------------------------------------------------------------

    def _dispatch(self) -> None:
        try:
            self._route()
        except (BrokenPipeError, ConnectionResetError, TimeoutError) as error:
            # The client went away (its timeout, a killed CLI) or stalled mid-body: nothing left to answer,
            # so this is logged at debug level and the connection dropped, deliberately not re-raised.
            logger.debug("fake API: client disconnected during %s %s: %s", self.command, self.path, error)
            self.close_connection = True

    def _route(self) -> None:
        fake = self.server.fake
        raw = self._read_body()
        route = self.path.split("?", 1)[0]
        if route.startswith(control.PREFIX):
            status, payload = control.handle(fake, self.command, route, raw)
            self._send_json(status, payload)
            return
        body = _parse_json(raw)
        is_messages = self.command == "POST" and route == MESSAGES_PATH
        text = user_text(body) if is_messages and isinstance(body, dict) else ""
        entry = fake.log.record(self.command, self.path, _headers(self), body, text, body_bytes=len(raw))
        if self.command in ("HEAD", "GET") and route == "/":
            fake.log.complete(entry.seq, 200)
            self._send_json(200, {"ok": True, "server": "claudebuild.fakeapi"})
        elif is_messages:
            self._answer_messages(entry)
        elif self.command == "POST" and route == COUNT_TOKENS_PATH and isinstance(body, dict):
            fake.log.complete(entry.seq, 200)
            self._send_json(200, {"input_tokens": tokens_for(request_chars(body))})
        else:
            logger.info("fake API: unknown endpoint %s %s", self.command, self.path)
            fake.log.complete(entry.seq, 404)
            self._send_error(HttpError(404, "not_found_error", f"Not found: {self.command} {route} (fake)"))

    def _answer_messages(self, request: LoggedRequest) -> None:
        fake, seq, body = self.server.fake, request.seq, request.body
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            fake.log.complete(seq, 400)
            self._send_error(HttpError(400, "invalid_request_error", "messages: field required (fake)"))
            return
        if not fake.acquire_slot():
            fake.log.complete(seq, 429, "concurrency")
            self._send_error(fake.concurrency_error())
            return
        try:
            answer = fake.answer_messages(request)
            fake.log.complete(seq, answer.status, answer.fault)
            self._write_answer(answer)
        finally:
            fake.release_slot()

    # -- writing -----------------------------------------------------------------------------------------

    def _write_answer(self, answer: Answer) -> None:
        if answer.error is not None:
            self._send_error(answer.error)
        elif answer.reply is None:
            self.close_connection = True  # server stopping: drop the request unanswered
        elif answer.malformed and answer.stream:
            self._start_sse()
            self._write_chunk(malformed_stream(answer.reply))
            self.wfile.flush()
            self.close_connection = True  # no terminating chunk: the client sees the stream cut off
        elif answer.malformed:
            body = json.dumps(answer.reply.to_message()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))  # promise the whole body, send half of it
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
        elif answer.stream:
            self._start_sse()
            for name, data in reply_events(answer.reply):
                self._write_chunk(encode_event(name, data))
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        else:
            self._send_json(200, answer.reply.to_message())

    def _start_sse(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("request-id", self._request_id())
        self.end_headers()

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")

    def _send_error(self, error: HttpError) -> None:
        extra: dict[str, str] = {}
        if error.retry_after is not None:
            extra["retry-after"] = f"{error.retry_after:g}"
        if error.should_retry is not None:
            extra["x-should-retry"] = "true" if error.should_retry else "false"
        self._send_bytes(error.status, error_body(error.error_type, error.message), extra)

    def _send_json(self, status: int, payload: Any) -> None:
        self._send_bytes(status, json.dumps(payload, ensure_ascii=False).encode(), {})

    def _send_bytes(self, status: int, data: bytes, extra: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("request-id", self._request_id())
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self.wfile.flush()

    def _request_id(self) -> str:
        return f"req_fake{id(self):x}"

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""


def _headers(handler: BaseHTTPRequestHandler) -> dict[str, str]:
    return select_headers(list(handler.headers.items()))


def _parse_json(raw: bytes) -> Any:
    """Parsed JSON body; undecodable bodies are kept as text so the log still shows what arrived."""
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return raw.decode("utf-8", errors="replace")
