"""`{webhook: URL}`: each event as one JSON POST. The body carries a `text` line too, which is
what Slack-compatible incoming webhooks (Slack, Mattermost, Rocket.Chat) show."""

from __future__ import annotations

import urllib.parse
from typing import Any

from taskorch.notify.base import timeout_of


class Webhook:
    keys = ("webhook",)

    @staticmethod
    def problem(spec: dict[str, Any]) -> str | None:
        url = spec["webhook"]
        parts = urllib.parse.urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            return "webhook must be an http:// or https:// URL"
        return None

    @staticmethod
    def label(spec: dict[str, Any]) -> str:
        """Scheme and host only: a Slack webhook's path is its secret."""
        parts = urllib.parse.urlsplit(spec["webhook"])
        hidden = "/…" if parts.path.strip("/") or parts.query else ""
        return f"webhook {parts.scheme}://{parts.hostname or ''}" \
               f"{f':{parts.port}' if parts.port else ''}{hidden}"

    @staticmethod
    def send(spec: dict[str, Any], event: dict[str, Any], line: str, cwd: str | None) -> str | None:
        # Here, not at the top: urllib.request brings http.client, email and ssl, ~50 ms of
        # every doit process's start, and only the notify worker ever posts.
        import urllib.error
        import urllib.request
        timeout = timeout_of(spec)
        request = urllib.request.Request(
            spec["webhook"], data=line.encode(), method="POST",
            headers={"Content-Type": "application/json", "User-Agent": "taskorch-notify"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                answer.read(65536)
        except urllib.error.HTTPError as exc:
            return f"HTTP {exc.code} {exc.reason}"
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                return f"no answer in {timeout:g} s"
            return f"cannot reach it: {exc.reason}"
        except TimeoutError:
            return f"no answer in {timeout:g} s"
        except (OSError, ValueError) as exc:
            return f"{type(exc).__name__}: {exc}"
        return None
