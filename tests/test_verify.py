"""The verification pass in pieces: the fake verifier, verdict keys, applying verdicts to a report."""

from __future__ import annotations

from claudebuild.fakeapi.verifier import verdict_for, wants_verdict
from claudebuild.model import Chunk, ChunkPart, ChunkResult, Finding, SentFile
from claudebuild.pipeline.prompt import Payload, Section
from claudebuild.pipeline.report import Report
from claudebuild.pipeline.verify_prompt import Verdict, build_verify_stdin, verdict_key, verdict_schema_json
from claudebuild.run.verify import VerifySettings, apply_verdicts, candidates, finding_identity, missing_keys

FINDING = Finding(file="app/a.py", line=2, end_line=2, severity="high", category="security/eval", title="Use of eval()",
                  message="m", quote="eval(x)", chunk="app/a.py")


def payload(*lines: str) -> Payload:
    body = "".join(f"{number}|{line}\n" for number, line in enumerate(lines, 1))
    return Payload((Section("app/a.py", 1, len(lines), len(lines), body),), (SentFile("app/a.py", "h", 1, len(lines), len(lines)),))


def test_the_fake_verifier_confirms_real_code_and_refutes_a_comment() -> None:
    assert verdict_for(build_verify_stdin(FINDING, payload("x = 1", "y = eval(x)")))["verdict"] == "confirmed"
    assert verdict_for(build_verify_stdin(FINDING, payload("x = 1", "# eval(x) is never called")))["verdict"] == "refuted"
    assert verdict_for(build_verify_stdin(FINDING, payload("x = 1")))["verdict"] == "uncertain"


def test_the_fake_verifier_reads_only_the_fenced_finding() -> None:
    text = build_verify_stdin(FINDING, payload("x = 1", "# eval(x)")).replace("Fence boundary:", "Boundary:")
    assert verdict_for(text)["verdict"] == "uncertain"


def test_a_verification_offers_the_verdict_schema() -> None:
    import json
    body = {"tools": [{"name": "StructuredOutput", "input_schema": json.loads(verdict_schema_json())}]}
    assert wants_verdict(body) and not wants_verdict({"tools": [{"name": "StructuredOutput", "input_schema": {}}]})


def test_a_verdict_key_changes_with_the_file_and_the_settings() -> None:
    key = verdict_key(FINDING, "h1", "d1")
    assert key == verdict_key(FINDING, "h1", "d1")
    assert len({key, verdict_key(FINDING, "h2", "d1"), verdict_key(FINDING, "h1", "d2")}) == 3


SETTINGS = VerifySettings("medium", "m", "d")
CHUNK = Chunk("app/a.py", (ChunkPart("app/a.py"),))
RAW = [{"file": "app/a.py", "line": 2, "end_line": 2, "severity": sev, "category": cat, "title": "t", "message": "m",
        "quote": "q"} for sev, cat in (("high", "security/eval"), ("low", "maintainability/todo"))]
RESULT = ChunkResult(chunk="app/a.py", status="ok", raw_findings=tuple(RAW), sent=(SentFile("app/a.py", "h", 1, 3, 3),))


def test_only_findings_at_or_above_the_threshold_are_candidates_and_stored_ones_are_not_missing() -> None:
    found = list(candidates(CHUNK, RESULT, SETTINGS))
    assert [finding.severity for finding, _ in found] == ["high"]
    key = found[0][1]
    assert missing_keys(CHUNK, RESULT, SETTINGS, None) == [key]
    assert missing_keys(CHUNK, RESULT, SETTINGS, {"verdicts": {key: {"verdict": "confirmed"}}}) == []
    assert missing_keys(CHUNK, RESULT, SETTINGS, {"verdicts": {key: {"verdict": "maybe"}}}) == [key]


def test_refuted_findings_leave_the_findings_and_uncertain_ones_are_marked() -> None:
    other = Finding(file="app/a.py", line=3, end_line=3, severity="high", category="security/x", title="t", message="m",
                    chunk="app/a.py")
    report = Report(findings=(FINDING, other), failed=(), pending=(), skipped_files={}, rejected={}, chunks_total=1,
                    files_total=1, fresh=1, cached=0, cost_this_run=0.0, cost_saved=0.0, cost_total=0.0,
                    input_tokens=0, output_tokens=0)
    refuted, uncertain = Verdict("refuted", "a comment", 0.01, "now"), Verdict("uncertain", "", 0.02, "before")
    out = apply_verdicts(report, {finding_identity(FINDING): refuted, finding_identity(other): uncertain}, run_id="now",
                         calls={"k1": refuted, "k2": uncertain}, pending=0)
    assert [f.line for f in out.refuted] == [2] and [(f.line, f.verdict) for f in out.findings] == [(3, "uncertain")]
    assert out.verification["calls_this_run"] == 1 and out.verification["cost_usd_total"] == 0.03
    assert out.verification_summary() == "verification: 1 calls, $0.0100, 1 refuted, 1 uncertain"
