"""A local, deterministic Anthropic Messages API for running the real `claude` CLI offline.

Tests and the demo point `ANTHROPIC_BASE_URL` at `FakeAnthropicServer` so
the genuine CLI runs end to end without network access or cost; the
"model" is the regex reviewer in `reviewer.py`, and `Fault`s script the
API failures claudebuild has to survive. Standard library only.
"""

from claudebuild.fakeapi.faults import Fault, FaultPlan, HttpError, faults_from_json
from claudebuild.fakeapi.requestlog import LoggedRequest
from claudebuild.fakeapi.reviewer import RULES, ReviewFinding, Rule, SourceLine, parse_numbered, review
from claudebuild.fakeapi.server import FakeAnthropicServer

__all__ = [
    "RULES",
    "FakeAnthropicServer",
    "Fault",
    "FaultPlan",
    "HttpError",
    "LoggedRequest",
    "ReviewFinding",
    "Rule",
    "SourceLine",
    "faults_from_json",
    "parse_numbered",
    "review",
]
