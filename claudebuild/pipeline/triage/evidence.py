"""Evidence: does the code a finding quotes stand in the file, near where it says?

Models invent evidence, so a finding is `verified` only when its quote is found in the
file as it is now; unverified findings are shown but never fail the gate. The file is
read here, once, exactly as the prompt read it, so line numbers agree.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from claudebuild.contained import OutsideRepository, read_contained
from claudebuild.errors import ClaudebuildError
from claudebuild.model import Finding
from claudebuild.pipeline.triage.fingerprint import normalise_code
from claudebuild.text_lines import split_lines

EVIDENCE_MARGIN = 3
"""Lines either side of the flagged range in which the quote may sit: models are often one or two lines off."""

_LINE_NUMBER_PREFIX = re.compile(r"(?m)^[ \t]*\d+(?:\t| ?\|)")
"""The prompt shows code as `<number>|<code>` (before prompt version 3, `<padded number>TAB<code>`); a model
that copies the number into its quote did not invent the code. Stripping a real `1|` off code only shortens
the quote, which must still be found in the file."""


def quote_found(finding: Finding, lines: Sequence[str], margin: int = EVIDENCE_MARGIN) -> bool:
    """True when the finding's quote occurs, whitespace-normalised, within `margin` lines of its range.

    The window is joined before comparing, so a quote spanning lines matches; an empty
    quote shows nothing and so proves nothing.
    """
    wanted = normalise_code(_LINE_NUMBER_PREFIX.sub("", finding.quote))
    if not wanted:
        return False
    start = max(1, finding.line - margin)
    stop = min(len(lines), max(finding.end_line, finding.line) + margin)
    return wanted in normalise_code(" ".join(lines[start - 1:stop]))


def load_source_lines(root: Path, paths: Iterable[str]) -> dict[str, list[str]]:
    """The current lines of `paths` under `root`, numbered as the prompt numbered them.

    Bytes are decoded as the prompt decodes them (UTF-8, invalid bytes replaced) and split
    with `split_lines`, never with text-mode reads, which would turn a lone CR into a line
    break and shift every later line. A file deleted since it was analyzed, or replaced by a
    symlink or special file, is left out (its findings are then not checked; its chunk is
    re-analyzed on the next run).
    """
    lines: dict[str, list[str]] = {}
    for path in sorted(set(paths)):
        try:
            data = read_contained(root, path).data
        except (FileNotFoundError, OutsideRepository):
            continue
        except OSError as error:
            raise ClaudebuildError(f"cannot read {path} to check findings against it: {error.strerror}") from error
        lines[path] = split_lines(data.decode("utf-8", errors="replace"))
    return lines
