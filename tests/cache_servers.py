"""Servers for the remote-cache tests: a real nginx with WebDAV `PUT`, and a tiny Python server that misbehaves.

nginx runs as this user on a free loopback port with its prefix, config, pid, logs and data all in a
temporary directory, so no root and no system file is needed. Its access log (`METHOD URI STATUS`
per line) is how the tests count what the cache was asked.
"""

from __future__ import annotations

import http.server
import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from conftest import end_process, wait_until

NGINX = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None)

NGINX_CONFIG = """\
daemon off;
worker_processes 1;
{user}
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{ worker_connections 64; }}
http {{
    log_format methods '$request_method $uri $status';
    access_log {prefix}/access.log methods;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 8m;
        location / {{
            root {prefix}/data;
            dav_methods PUT;
            create_full_put_path on;
            dav_access user:rw group:r all:r;
        }}
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class Nginx:
    """One nginx process; `url` is a cache URL under it, `requests()` what it was asked."""

    def __init__(self, prefix: Path) -> None:
        self.prefix = prefix
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/cache"

    @property
    def data(self) -> Path:
        return self.prefix / "data" / "cache" / "ac"

    def start(self) -> None:
        assert NGINX is not None
        self.prefix.mkdir(parents=True, exist_ok=True)
        (self.prefix / "data").mkdir(exist_ok=True)
        for attempt in range(5):
            self.port = free_port()
            config = self.prefix / "nginx.conf"
            user = "user root;" if os.geteuid() == 0 else ""  # workers keep our uid, so they can write the temp dir
            config.write_text(NGINX_CONFIG.format(prefix=self.prefix, port=self.port, user=user))
            self.process = subprocess.Popen([NGINX, "-p", str(self.prefix), "-c", str(config), "-e",
                                             str(self.prefix / "error.log")],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if self._listening(self.process):
                return
            if attempt == 4:
                raise AssertionError("nginx did not start: " + (self.prefix / "error.log").read_text(errors="replace"))

    def _listening(self, process: subprocess.Popen[bytes]) -> bool:
        """Wait until nginx accepts connections (True) or has exited (False: e.g. the port was taken meanwhile)."""
        wait_until(lambda: accepts(self.port) or process.poll() is not None, timeout=30, what="nginx listening")
        return process.poll() is None

    def stop(self) -> None:
        if self.process is not None:
            end_process(self.process)
            self.process = None

    def requests(self, method: str | None = None) -> list[tuple[str, str, int]]:
        """(method, uri, status) of every request answered so far (nginx writes the log line at the end)."""
        try:
            lines = (self.prefix / "access.log").read_text().splitlines()
        except FileNotFoundError:
            return []
        parsed = [(m, u, int(s)) for m, u, s in (line.split(" ") for line in lines if line.count(" ") == 2)]
        return [item for item in parsed if method is None or item[0] == method]

    def entries(self) -> list[Path]:
        return sorted(self.data.iterdir()) if self.data.is_dir() else []


@contextmanager
def running_nginx(prefix: Path) -> Iterator[Nginx]:
    server = Nginx(prefix)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class _Misbehaving(http.server.BaseHTTPRequestHandler):
    mode = "500"
    hold: threading.Event
    count: list[int]

    def _answer(self) -> None:
        self.count.append(1)
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self.mode == "hang":
            self.hold.wait(60)
            return
        self.send_response(500)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_PUT = do_HEAD = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def misbehaving_server(mode: str) -> Iterator[tuple[str, list[int]]]:
    """A cache URL whose server answers every request with 500 (`mode="500"`) or never (`"hang"`),
    and the list that grows by one per request."""
    hold = threading.Event()
    count: list[int] = []
    handler = type("Handler", (_Misbehaving,), {"mode": mode, "hold": hold, "count": count})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/cache", count
    finally:
        hold.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
