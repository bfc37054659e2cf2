"""`python -m claudebuild.fakeapi`: run the fake API as its own process.

For the demo and shell scripts that need a server outliving one Python
test. Prints its URL (the ANTHROPIC_BASE_URL value) as the only stdout
line, so a caller can read one line and go; stops cleanly on SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from claudebuild.fakeapi.faults import Fault, faults_from_json
from claudebuild.fakeapi.server import FakeAnthropicServer


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m claudebuild.fakeapi",
                                     description="Local fake Anthropic Messages API (127.0.0.1 only).")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default 0: pick a free one)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds to wait before each messages answer")
    parser.add_argument("--max-concurrent", type=int, default=None,
                        help="messages requests allowed in flight; one more gets 429")
    parser.add_argument("--retry-after", type=float, default=1.0, help="retry-after seconds sent with 429/529")
    parser.add_argument("--faults", type=Path, default=None,
                        help='JSON file: a list of faults or {"faults": [...]} (see claudebuild.fakeapi.Fault)')
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    return parser


def _load_faults(path: Path | None) -> list[Fault]:
    if path is None:
        return []
    try:
        return faults_from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError) as error:
        raise SystemExit(f"fakeapi: cannot load faults from {path}: {error}") from error


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(message)s")
    try:
        server = FakeAnthropicServer(args.port, latency=args.latency, max_concurrent=args.max_concurrent,
                                     retry_after=args.retry_after, faults=_load_faults(args.faults))
    except ValueError as error:
        raise SystemExit(f"fakeapi: {error}") from error
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    try:
        server.start()
    except OSError as error:
        raise SystemExit(f"fakeapi: cannot listen on 127.0.0.1:{args.port}: {error}") from error
    print(server.url, flush=True)
    try:
        while not stop.wait(0.5):  # a timed wait keeps the main thread responsive to signals
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
