"""The HTTP side of `doit serve` (commands/serve.py): the live dashboard on 127.0.0.1.

Every request loads the project and opens the state store afresh, and closes it when answered:
the page follows whatever heartbeats, `doit stop` or a manifest edit did since, and nothing is
held between requests. The heartbeat's lock is never taken; the store's WAL lets a reader and a
tick run at once. It answers only requests addressed to 127.0.0.1 or localhost (DNS
rebinding), with a Content-Security-Policy that allows no script but the page's own. Imported
only when `serve` runs: http.server alone cost every doit process 27 ms.
"""

from __future__ import annotations

import base64
import hashlib
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

from doit.exceptions import TaskFailed

from taskorch.interrupts import Interrupts
from taskorch.project import Project
from taskorch.terminal import echo
from taskorch.views import board, dashboard, logtail, page

HOST = "127.0.0.1"
# No script but the page's own (by its hash), no fetch but to this server.
_SCRIPT_HASH = base64.b64encode(hashlib.sha256(page.SCRIPT.encode()).digest()).decode()
POLICY = ("default-src 'none'; style-src 'unsafe-inline'; "
          f"script-src 'sha256-{_SCRIPT_HASH}'; connect-src 'self'; base-uri 'none'; "
          "form-action 'none'; frame-ancestors 'none'")


class Handler(BaseHTTPRequestHandler):
    manifest: Path  # set on the subclass serve() makes
    server_version = "taskorch"

    def log_message(self, format: str, *args: object) -> None:
        pass  # a poll every two seconds would bury the terminal; errors are answered as text

    def _send(self, status: int, body: str, kind: str = "text/plain",
              extra: dict[str, str] | None = None) -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        for key, value in {"Content-Type": f"{kind}; charset=utf-8",
                           "Content-Length": str(len(data)), "Cache-Control": "no-store",
                           "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
                           "Content-Security-Policy": POLICY, **(extra or {})}.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _addressed_here(self) -> bool:
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
        return host in (HOST, "localhost")

    def do_GET(self) -> None:
        if not self._addressed_here():
            self._send(403, "only http://127.0.0.1 or http://localhost may ask\n")
            return
        try:
            project = Project.load(self.manifest)
        except Exception as exc:  # a manifest broken while serving: say so, keep serving
            self._send(500, f"cannot load {self.manifest}: {exc}\n")
            return
        try:
            self._answer(project, self.path.split("?", 1)[0])
        except Exception as exc:
            self._send(500, f"{type(exc).__name__}: {exc}\n")
        finally:
            if "store" in project.__dict__:  # opened by this request: closed by it
                project.store.close()

    def _answer(self, project: Project, path: str) -> None:
        if path == "/":
            self._send(200, dashboard.html(board.read(project, logs=False), live=True),
                       "text/html")
        elif path == "/body":
            shown = board.read(project, logs=False)
            self._send(200, dashboard.body(shown, live=True), "text/html",
                       {"X-Taskorch-Version": shown.version})
        elif path == "/version":
            self._send(200, board.version(project) + "\n")
        elif path.startswith("/log/"):
            task_id = unquote(path[len("/log/"):])
            row = project.store.get(task_id) if task_id in project.task_ids else None
            if row is None:
                self._send(404, f"no task {task_id!r}\n")
                return
            lines = logtail.tail(project.layout, task_id, row.attempts)
            self._send(200, "\n".join(lines) + "\n" if lines else "(no output yet)\n")
        else:
            self._send(404, "not found\n")


def serve(project: Project, port: int) -> TaskFailed | None:
    handler = type("BoundHandler", (Handler,), {"manifest": project.manifest.path})
    try:
        server = ThreadingHTTPServer((HOST, port), handler)
    except OSError as exc:
        return TaskFailed(f"serve: cannot listen on {HOST}:{port} ({exc.strerror or exc}); "
                          "--port N picks another, --port 0 any free one")
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                              daemon=True)
    with Interrupts() as stop:
        thread.start()
        echo(f"serving the dashboard of {project.manifest.project} at "
             f"http://{HOST}:{server.server_address[1]}/ (Ctrl-C stops)")
        while not stop:
            time.sleep(0.1)
        server.shutdown()
        server.server_close()
    print("stopped", file=sys.stderr, flush=True)
    return None
