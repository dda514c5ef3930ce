"""The agents' own settings files, read and repaired without losing anything of the user's.

A repair merges into what is there (every other key kept), writes atomically with the file's
mode, and keeps the original once as `<file>.taskorch-backup`. A file that cannot be read is
never written.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

BACKUP = ".taskorch-backup"


class Unreadable(Exception):
    """A settings file that exists but cannot be read or parsed; the message names it."""


def table(value: Any) -> dict[str, Any]:
    """`value` when it is a mapping, else an empty one: these files are written by others."""
    return value if isinstance(value, dict) else {}


def entries(value: Any) -> list[Any]:
    """`value` when it is a list, else an empty one."""
    return value if isinstance(value, list) else []


def shown_path(path: Path, home: Path) -> str:
    """`~/.claude.json` for a file under the agent's HOME, the full path otherwise."""
    try:
        return "~/" + str(path.relative_to(home))
    except ValueError:
        return str(path)


def read_text(path: Path) -> str | None:
    """The text of `path`; None when it does not exist."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise Unreadable(f"{path} cannot be read ({type(exc).__name__})") from None


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in `path`; None when it does not exist."""
    text = read_text(path)
    if text is None:
        return None
    try:
        data = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:  # its message quotes positions, never content
        raise Unreadable(f"{path} is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise Unreadable(f"{path} holds a JSON {type(data).__name__}, not an object")
    return data


def read_toml(path: Path) -> tuple[dict[str, Any], str] | None:
    """(the parsed table, the text) of `path`; None when it does not exist."""
    text = read_text(path)
    if text is None:
        return None
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:  # positions only, never content
        raise Unreadable(f"{path} is not valid TOML ({exc})") from None


def write(path: Path, text: str) -> None:
    """Replace `path` atomically, keeping its mode (0600 for a new file: these files hold
    account state), after a one-time backup of the original."""
    backup = path.with_name(path.name + BACKUP)
    mode = 0o600
    if path.exists():
        mode = path.stat().st_mode & 0o777
        if not backup.exists():
            shutil.copy2(path, backup)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.taskorch-tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json(path: Path, data: dict[str, Any]) -> None:
    write(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def toml_key(text: str) -> str:
    """`text` as a TOML basic string (JSON's escapes are TOML's, for a str)."""
    return json.dumps(text)


def append_toml(path: Path, text: str, table: str) -> None:
    """Append `table` (TOML text) to `path`, leaving every byte of the user's text as it was.
    The result must parse; otherwise nothing is written (Unreadable says why)."""
    new = text + ("" if not text or text.endswith("\n") else "\n") + ("\n" if text else "") + table
    try:
        tomllib.loads(new)
    except tomllib.TOMLDecodeError as exc:
        raise Unreadable(f"adding the table to {path} would not be valid TOML ({exc})") from None
    write(path, new)
