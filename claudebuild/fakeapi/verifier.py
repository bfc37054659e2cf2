"""The fake model's answer to a verification call: a verdict on one finding, from the code it is shown.

A verification offers the StructuredOutput tool with a `verdict` schema. The fake reviewer has
deliberate false positives: its regexes also match inside comments (`# never call eval() here`
is flagged as `security/eval`). The fake verifier refutes exactly those: a `security/` finding
whose flagged line is a comment. A flagged line holding `VERIFY-UNCERTAIN`, or a line not among
the content shown, gets `uncertain`; everything else is `confirmed`. Pure, like the reviewer.
"""

from __future__ import annotations

import json
import re
from typing import Any

from claudebuild.fakeapi.conversation import STRUCTURED_OUTPUT_TOOL
from claudebuild.fakeapi.reviewer import declared_boundaries, parse_numbered

UNCERTAIN_MARKER = "VERIFY-UNCERTAIN"
FINDING_RE = re.compile(r"^<<<(?P<boundary>\S+) FINDING>>>\n(?P<body>.*?)\n<<<(?P=boundary) END FINDING>>>$",
                        re.MULTILINE | re.DOTALL)
COMMENT_RE = re.compile(r"^\s*(#|//|--|/\*|\*)")


def wants_verdict(body: dict[str, Any]) -> bool:
    """The request offers the StructuredOutput tool with the verification schema."""
    for tool in body.get("tools") or ():
        if isinstance(tool, dict) and tool.get("name") == STRUCTURED_OUTPUT_TOOL:
            schema = tool.get("input_schema")
            properties = schema.get("properties") if isinstance(schema, dict) else None
            return isinstance(properties, dict) and "verdict" in properties
    return False


def verdict_for(text: str) -> dict[str, str]:
    """`{"verdict", "reason"}` for the (first) fenced finding in `text` against the fenced file lines."""
    boundaries = declared_boundaries(text)
    finding: Any = None
    for match in FINDING_RE.finditer(text):
        if match["boundary"] in boundaries:
            try:
                finding = json.loads(match["body"])
            except ValueError:
                finding = None
            break
    if not isinstance(finding, dict):
        return {"verdict": "uncertain", "reason": "No finding was given to verify."}
    lines = {(line.file, line.line): line.text for line in parse_numbered(text)}
    line = finding.get("line")
    flagged = lines.get((str(finding.get("file")), line if isinstance(line, int) else 0))
    if flagged is None:
        return {"verdict": "uncertain", "reason": "The flagged line is not in the code shown."}
    if UNCERTAIN_MARKER in flagged:
        return {"verdict": "uncertain", "reason": "The code shown is not enough to decide."}
    if str(finding.get("category", "")).startswith("security/") and COMMENT_RE.match(flagged):
        return {"verdict": "refuted", "reason": "The flagged text is a comment; it never runs."}
    return {"verdict": "confirmed", "reason": f"Line {finding.get('line')} does what the finding says."}
