"""The `/_fake/…` endpoints: steering a server that runs in another process.

The demo and shell-level tests start the fake with `python -m
claudebuild.fakeapi` and cannot call Python methods on it, so the same
controls are exposed over HTTP. These requests are not recorded in the
request log: tests count API traffic, not their own steering.

    GET  /_fake/requests   -> {"requests": [...]}
    GET  /_fake/faults     -> {"faults": [...]}
    POST /_fake/faults     <- [fault, …] or {"faults": [...]}   (replaces the plan)
    POST /_fake/reset      clears log, faults and outage
    POST /_fake/outage     <- {"seconds": 5, "status": 529, "error_type": …, "message": …, "retry_after": …}
    POST /_fake/config     <- {"latency": 0.2, "max_concurrent": 2, "retry_after": 1}
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from claudebuild.fakeapi.faults import faults_from_json

if TYPE_CHECKING:
    from claudebuild.fakeapi.server import FakeAnthropicServer

PREFIX = "/_fake/"

OUTAGE_KEYS = frozenset({"seconds", "status", "error_type", "message", "retry_after"})
CONFIG_KEYS = frozenset({"latency", "max_concurrent", "retry_after"})


def _error(status: int, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"type": "error", "error": {"type": "invalid_request_error", "message": message}}


def _object(raw: bytes, allowed: frozenset[str]) -> dict[str, Any]:
    data = json.loads(raw or b"{}")
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValueError(f"unknown field(s) {unknown}; known: {sorted(allowed)}")
    return data


def handle(fake: FakeAnthropicServer, method: str, route: str, raw: bytes) -> tuple[int, Any]:
    """Apply one control request; returns (status, JSON payload). Bad input is a 400 that says why."""
    try:
        if method == "GET" and route == PREFIX + "requests":
            return 200, {"requests": [entry.to_dict() for entry in fake.requests]}
        if method == "GET" and route == PREFIX + "faults":
            return 200, {"faults": [fault.to_dict() for fault in fake.faults]}
        if method == "POST" and route == PREFIX + "faults":
            fake.faults = faults_from_json(json.loads(raw or b"[]"))
            return 200, {"faults": [fault.to_dict() for fault in fake.faults]}
        if method == "POST" and route == PREFIX + "reset":
            fake.reset()
            return 200, {"ok": True}
        if method == "POST" and route == PREFIX + "outage":
            options = _object(raw, OUTAGE_KEYS)
            fake.start_outage(float(options.pop("seconds")), **options)
            return 200, {"ok": True}
        if method == "POST" and route == PREFIX + "config":
            fake.configure(**_object(raw, CONFIG_KEYS))
            return 200, {"ok": True}
    except (ValueError, TypeError, KeyError) as error:  # json.JSONDecodeError is a ValueError
        return _error(400, f"bad {route} request: {error}")
    return _error(404, f"unknown control endpoint {method} {route}")
