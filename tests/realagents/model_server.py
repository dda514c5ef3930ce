"""A scripted model on 127.0.0.1 for the real agent CLIs (issue 9).

One threaded HTTP server speaks three streaming wire APIs well enough for the real CLIs:

- OpenAI Responses, `POST /v1/responses` (codex): SSE response.created, output_item.added/done
  (a `function_call` or a `message`), response.completed with usage;
- Anthropic Messages, `POST /v1/messages` (Claude Code): SSE message_start, content_block_* (text
  or tool_use), message_delta with usage, message_stop; plus `/v1/messages/count_tokens`;
- OpenAI chat completions, `POST /v1/chat/completions` (aider through litellm), streamed or not.

A script drives each session: a list of steps, one per model request, e.g.

    [{"write": "hello.txt", "content": "hello\\n"}, {"commit": "Add hello.txt"}, {"say": "Done."}]

Steps: `shell` (a command), `write` (path, content), `edit` (path, old, new), `commit` (message),
`say` (final text), `ask` (a question; Claude gets an AskUserQuestion dialog, the others prose),
`error` (an HTTP status, `times` requests in a row, every request when null; `retry_after`),
`hang` (no answer; the connection drops after `hang` seconds, never when null; with `stall`, the
silence comes after a 200 and SSE headers). Any step may carry `delay` (seconds before the answer)
and `text` (prose before a tool call). Tool-calling APIs take one step per request. aider's wire is
text only, so its one request takes every action step up to the next `say`/`ask`, rendered as
SEARCH/REPLACE blocks (aider commits by itself). Requests without tools (codex's thread title,
aider's commit message, Claude's side calls) are side requests: they get `side` text and use
no step. A prompt holding `[[script:NAME]]` uses the script NAME, otherwise `default`.

Every request is logged to a JSONL file: time, method, path, user agent, body, the steps it got.

    python model_server.py --script script.json --log requests.jsonl   # prints the base URL
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

Step = dict[str, Any]
ACTIONS = ("shell", "write", "edit", "commit")
ERROR_BODIES = {  # status -> (OpenAI error type, Anthropic error type, message)
    401: ("invalid_api_key", "authentication_error", "Invalid API key"),
    429: ("rate_limit_exceeded", "rate_limit_error", "Number of requests has exceeded your rate limit"),
    500: ("server_error", "api_error", "Internal server error"),
    529: ("server_error", "overloaded_error", "Overloaded"),
}


@dataclass
class Script:
    steps: list[Step]
    side: str = "Scripted change"
    cursor: int = 0
    errors_sent: int = 0

    @classmethod
    def load(cls, raw: Any) -> Script:
        if isinstance(raw, list):
            return cls(steps=list(raw))
        return cls(steps=list(raw["steps"]), side=raw.get("side", cls.side))

    def next(self) -> Step:
        """The step for the next request; an `error` step holds for `times` requests."""
        if self.cursor >= len(self.steps):
            return {"say": "Nothing left to do."}
        step = self.steps[self.cursor]
        if "error" in step:
            self.errors_sent += 1
            times = step.get("times", 1)
            if times is not None and self.errors_sent >= times:
                self.cursor, self.errors_sent = self.cursor + 1, 0
            return step
        self.cursor += 1
        return step

    def gather(self) -> list[Step]:
        """For text-only APIs: every action step up to and including the next say/ask."""
        first = self.next()
        out = [first]
        if not any(k in first for k in ACTIONS):
            return out
        while self.cursor < len(self.steps):
            step = self.steps[self.cursor]
            if not any(k in step for k in (*ACTIONS, "say", "ask")):
                break
            out.append(self.next())
            if "commit" in step:  # aider commits by itself; its commit message is a side request
                self.side = step["commit"] or self.side
            if "say" in step or "ask" in step:
                break
        return out


@dataclass
class State:
    scripts: dict[str, Script]
    log_path: Path | None
    stopping: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def script_for(self, raw_body: str) -> Script:
        names = re.findall(r"\[\[script:([\w.-]+)\]\]", raw_body)  # the latest prompt's
        name = names[-1] if names else "default"
        return self.scripts.setdefault(name, Script(steps=[]))

    def log(self, entry: dict[str, Any]) -> None:
        if self.log_path is None:
            return
        with self.lock, self.log_path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(entry, ensure_ascii=False) + "\n")


# -- how each step looks as a tool call ------------------------------------------------------

def shell_of(step: Step) -> str:
    """The shell command that carries out an action step (for agents that only have a shell)."""
    if "shell" in step:
        return str(step["shell"])
    if "write" in step:
        path = shlex.quote(step["write"])
        return f"mkdir -p \"$(dirname {path})\" && printf %s {shlex.quote(step['content'])} > {path}"
    if "edit" in step:
        code = ("import sys,pathlib;p=pathlib.Path(sys.argv[1]);"
                "p.write_text(p.read_text().replace(sys.argv[2],sys.argv[3],1))")
        return " ".join(shlex.quote(a) for a in ("python3", "-c", code, step["edit"], step["old"],
                                                  step["new"]))
    message = step.get("commit") or "Scripted commit"
    return f"git add -A && git commit -q -m {shlex.quote(message)} && git log --oneline -1"


def codex_call(step: Step) -> tuple[str, dict[str, Any]]:
    return "exec_command", {"cmd": shell_of(step), **step.get("args", {})}


def claude_call(step: Step, cwd: str) -> tuple[str, dict[str, Any]]:
    if "ask" in step:
        options = step.get("options") or ["Yes", "No"]
        return "AskUserQuestion", {"questions": [{
            "question": step["ask"], "header": step.get("header", "Question"), "multiSelect": False,
            "options": [{"label": o, "description": o} for o in options]}]}
    if "write" in step:
        return "Write", {"file_path": str(Path(cwd, step["write"])), "content": step["content"]}
    if "edit" in step:
        return "Edit", {"file_path": str(Path(cwd, step["edit"])), "old_string": step["old"],
                        "new_string": step["new"]}
    return "Bash", {"command": shell_of(step), "description": step.get("text", "Scripted step"),
                    **step.get("args", {})}


def aider_text(steps: list[Step]) -> str:
    """Action steps as aider's SEARCH/REPLACE blocks and shell fences, then the final words."""
    parts: list[str] = []
    for step in steps:
        if "text" in step:
            parts.append(step["text"])
        if "write" in step:
            parts.append(f"{step['write']}\n```\n<<<<<<< SEARCH\n=======\n{step['content']}"
                         f"{'' if step['content'].endswith(chr(10)) else chr(10)}>>>>>>> REPLACE\n```")
        elif "edit" in step:
            parts.append(f"{step['edit']}\n```\n<<<<<<< SEARCH\n{step['old']}\n=======\n"
                         f"{step['new']}\n>>>>>>> REPLACE\n```")
        elif "shell" in step:
            parts.append(f"```bash\n{step['shell']}\n```")
        elif "say" in step or "ask" in step:
            parts.append(step.get("say") or step["ask"])
    return "\n\n".join(parts)


def usage_for(body: str, text: str) -> tuple[int, int]:
    return max(1, len(body) // 4), max(1, len(text) // 4)


def sse(event: str | None, data: Any) -> bytes:
    head = f"event: {event}\n" if event else ""
    payload = data if isinstance(data, str) else json.dumps(data)
    return f"{head}data: {payload}\n\n".encode()


def ev(kind: str, **fields: Any) -> bytes:
    """A server-sent event named like its `type`, as both APIs send them."""
    return sse(kind, {"type": kind, **fields})


# -- the three wire APIs -----------------------------------------------------------------------

def responses_stream(body: dict[str, Any], step: Step, raw: str) -> Iterator[bytes]:
    rid = f"resp_{uuid.uuid4().hex[:12]}"
    base = {"id": rid, "object": "response", "created_at": int(time.time()),
            "model": body.get("model", "scripted"), "status": "in_progress", "output": []}
    seq = iter(range(1_000_000))
    yield ev("response.created", sequence_number=next(seq), response=base)
    items: list[dict[str, Any]] = []
    if "text" in step and any(k in step for k in ACTIONS):
        items.append(_message(step["text"]))
    if any(k in step for k in ACTIONS):
        name, args = codex_call(step)
        items.append({"type": "function_call", "id": f"fc_{uuid.uuid4().hex[:12]}",
                      "call_id": f"call_{uuid.uuid4().hex[:12]}", "name": name,
                      "arguments": json.dumps(args), "status": "completed"})
    else:
        items.append(_message(step.get("say") or step.get("ask") or step.get("side", "")))
    for i, item in enumerate(items):
        yield ev("response.output_item.added", sequence_number=next(seq), output_index=i,
                 item={**item, "status": "in_progress"})
        if item["type"] == "message":
            yield ev("response.output_text.delta", sequence_number=next(seq), item_id=item["id"],
                     output_index=i, content_index=0, delta=item["content"][0]["text"])
        yield ev("response.output_item.done", sequence_number=next(seq), output_index=i, item=item)
    n_in, n_out = usage_for(raw, json.dumps(items))
    usage = {"input_tokens": n_in, "input_tokens_details": {"cached_tokens": 0},
             "output_tokens": n_out, "output_tokens_details": {"reasoning_tokens": 0},
             "total_tokens": n_in + n_out}
    yield ev("response.completed", sequence_number=next(seq),
             response={**base, "status": "completed", "output": items, "usage": usage})


def _message(text: str) -> dict[str, Any]:
    return {"type": "message", "id": f"msg_{uuid.uuid4().hex[:12]}", "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": text, "annotations": []}]}


def messages_stream(body: dict[str, Any], step: Step, raw: str) -> Iterator[bytes]:
    m = re.search(r"working directory: ([^\s\\\"]+)", raw, re.I)  # raw JSON: stop at a \n
    cwd = m.group(1) if m else "."
    blocks: list[dict[str, Any]] = []
    tool = any(k in step for k in (*ACTIONS, "ask"))
    if step.get("text") or not tool:
        blocks.append({"type": "text", "text": step.get("text") or step.get("say")
                       or step.get("side", "")})
    if tool:
        name, args = claude_call(step, cwd)
        blocks.append({"type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:20]}", "name": name,
                       "input": args})
    n_in, n_out = usage_for(raw, json.dumps(blocks))
    yield ev("message_start", message={
        "id": f"msg_{uuid.uuid4().hex[:20]}", "type": "message", "role": "assistant",
        "model": body.get("model", "scripted"), "content": [], "stop_reason": None,
        "stop_sequence": None, "usage": {"input_tokens": n_in, "output_tokens": 1,
                                         "cache_creation_input_tokens": 0,
                                         "cache_read_input_tokens": 0}})
    for i, block in enumerate(blocks):
        if block["type"] == "text":
            yield ev("content_block_start", index=i, content_block={"type": "text", "text": ""})
            delta = {"type": "text_delta", "text": block["text"]}
        else:
            yield ev("content_block_start", index=i, content_block={**block, "input": {}})
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        yield ev("content_block_delta", index=i, delta=delta)
        yield ev("content_block_stop", index=i)
    yield ev("message_delta", delta={"stop_reason": "tool_use" if tool else "end_turn",
                                     "stop_sequence": None}, usage={"output_tokens": n_out})
    yield ev("message_stop")


def chat_reply(body: dict[str, Any], text: str, raw: str) -> tuple[dict[str, Any], Iterator[bytes]]:
    cid, created, model = f"chatcmpl-{uuid.uuid4().hex[:12]}", int(time.time()), body.get("model", "x")
    n_in, n_out = usage_for(raw, text)
    usage = {"prompt_tokens": n_in, "completion_tokens": n_out, "total_tokens": n_in + n_out}
    whole = {"id": cid, "object": "chat.completion", "created": created, "model": model,
             "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                          "finish_reason": "stop"}], "usage": usage}

    def chunk(delta: dict[str, Any], finish: str | None) -> bytes:
        return sse(None, {"id": cid, "object": "chat.completion.chunk", "created": created,
                          "model": model, "choices": [{"index": 0, "delta": delta,
                                                       "finish_reason": finish}]})

    def stream() -> Iterator[bytes]:
        yield chunk({"role": "assistant", "content": ""}, None)
        for i in range(0, len(text), 40):
            yield chunk({"content": text[i:i + 40]}, None)
        yield chunk({}, "stop")
        if (body.get("stream_options") or {}).get("include_usage"):
            yield sse(None, {"id": cid, "object": "chat.completion.chunk", "created": created,
                             "model": model, "choices": [], "usage": usage})
        yield sse(None, "[DONE]")
    return whole, stream()


# -- HTTP --------------------------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    server: "ModelServer"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # the JSONL log says it all
        pass

    def do_GET(self) -> None:
        self._entry("", None)
        if self.path.startswith("/v1/models"):
            self._json(200, {"object": "list", "data": [{"id": "scripted", "object": "model"}]})
        else:
            self._json(200 if self.path == "/health" else 404, {"ok": self.path == "/health"})

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("utf-8", "replace")
        try:
            body: dict[str, Any] = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            body = {}
        path = self.path.split("?")[0]
        state = self.server.state
        if path.endswith("/messages/count_tokens"):
            self._entry(raw, None)
            return self._json(200, {"input_tokens": max(1, len(raw) // 4)})
        if path.startswith("/_scripts/"):  # tests may load a script at run time
            state.scripts[path.rsplit("/", 1)[1]] = Script.load(body)
            self._entry(raw, None)
            return self._json(200, {"ok": True})
        kind = ("responses" if path.endswith("/responses") else "messages"
                if path.endswith("/messages") else "chat" if path.endswith("/chat/completions")
                else None)
        if kind is None:
            self._entry(raw, None)
            return self._json(404, {"error": {"message": f"no route {path}"}})
        script = state.script_for(raw)
        side = (not body.get("tools")) if kind != "chat" else not body.get("stream")
        with state.lock:
            steps: list[Step] = [{"side": script.side}] if side else (
                script.gather() if kind == "chat" and not body.get("tools") else [script.next()])
        step = steps[0]
        self._entry(raw, steps)
        if step.get("delay"):
            state.stopping.wait(float(step["delay"]))
        if "hang" in step:  # no answer; the connection drops after `hang` seconds (null: never)
            if step.get("stall"):
                self._sse_headers()
            state.stopping.wait(step["hang"])
            self.close_connection = True
            return
        if "error" in step:
            return self._error(int(step["error"]), kind, step)
        if kind == "responses":
            return self._sse(responses_stream(body, step, raw))
        if kind == "messages":
            return self._sse(messages_stream(body, step, raw))
        text = aider_text(steps) if not side else script.side
        whole, stream = chat_reply(body, text, raw)
        return self._sse(stream) if body.get("stream") else self._json(200, whole)

    def _entry(self, raw: str, steps: list[Step] | None) -> None:
        try:
            body: Any = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            body = raw
        self.server.state.log({"t": round(time.time(), 3), "method": self.command,
                               "path": self.path, "user_agent": self.headers.get("User-Agent"),
                               "steps": steps, "body": body})

    def _json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(payload)

    def _error(self, status: int, kind: str, step: Step) -> None:
        oa_type, an_type, message = ERROR_BODIES.get(status, ("server_error", "api_error", "Error"))
        message = step.get("message", message)
        headers = {"Retry-After": str(step["retry_after"])} if "retry_after" in step else {}
        if kind == "messages":
            data: Any = {"type": "error", "error": {"type": an_type, "message": message}}
        else:
            data = {"error": {"message": message, "type": oa_type, "code": oa_type}}
        self._json(status, data, headers)

    def _sse_headers(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True

    def _sse(self, events: Iterator[bytes]) -> None:
        self._sse_headers()
        try:
            for event in events:
                self.wfile.write(event)
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass


class ModelServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, scripts: dict[str, Any] | None = None, log_path: str | Path | None = None,
                 port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.state = State({k: Script.load(v) for k, v in (scripts or {}).items()},
                           Path(log_path) if log_path else None)
        self._thread: threading.Thread | None = None

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)  # a client dropping a kept-alive socket is not

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self) -> ModelServer:
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.state.stopping.set()
        self.shutdown()
        self.server_close()

    def requests(self) -> list[dict[str, Any]]:
        """The log so far, as dicts (empty without a log file)."""
        path = self.state.log_path
        if path is None or not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--script", help="a JSON file: a step list, or {name: steps} with --multi")
    ap.add_argument("--multi", action="store_true", help="the script file maps names to scripts")
    ap.add_argument("--log", help="append every request to this JSONL file")
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    raw: Any = json.loads(Path(args.script).read_text()) if args.script else []
    server = ModelServer(raw if args.multi else {"default": raw}, args.log, args.port)
    print(server.url, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
