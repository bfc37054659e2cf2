"""A tiny WSGI router: enough for a JSON API without a framework."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs

STATUS_TEXT = {200: "OK", 201: "Created", 400: "Bad Request", 404: "Not Found", 500: "Internal Server Error"}


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: dict[str, Any]
    db: sqlite3.Connection


@dataclass
class Response:
    status: int = 200
    payload: Any = None
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})


Handler = Callable[[Request], Response]


class Router:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.routes: dict[tuple[str, str], Handler] = {}

    def route(self, method: str, path: str) -> Callable[[Handler], Handler]:
        def decorator(handler: Handler) -> Handler:
            self.routes[(method, path)] = handler
            return handler

        return decorator

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = self._request(environ)
        handler = self.routes.get((request.method, request.path))
        response = handler(request) if handler else Response(404, {"error": "not found"})
        status = f"{response.status} {STATUS_TEXT.get(response.status, 'Unknown')}"
        start_response(status, list(response.headers.items()))
        return [json.dumps(response.payload).encode()]

    def _request(self, environ: dict[str, Any]) -> Request:
        query = {key: values[-1] for key, values in parse_qs(environ.get("QUERY_STRING", "")).items()}
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        body = json.loads(raw) if raw else {}
        return Request(environ["REQUEST_METHOD"], environ.get("PATH_INFO", "/"), query, body, self.db)
