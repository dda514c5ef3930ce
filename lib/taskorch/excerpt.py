"""What a retry prompt quotes of the failed attempt: a clean, bounded excerpt (issue 9, part 5).

The pipe-pane log is the pane's raw byte stream: TUI drawing, cursor moves, `\\r` redraws of
spinners, escapes such as `\\x1b[>4;0m`, the prompt taskorch sent echoed back, and every earlier
attempt before it. Quoted as it is, a third attempt's prompt was 7.3 KB of that. So:

- for a profile with `events`, the excerpt is the parser's readable transcript of the attempt's
  raw events, and last the error the attempt's signals report;
- otherwise it is the attempt's part of the log, rendered the way a terminal would show it
  (carriage returns and cursor moves applied, escapes dropped, wide characters counted twice),
  with spinner redraws and blank runs collapsed;
- lines of the prompts taskorch itself sent (the rendered prompt files of this task's attempts,
  except the parts that quoted an earlier attempt's output) are dropped;
- it keeps the end, at most LIMIT bytes, and says how much was cut.
"""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

from taskorch import attemptlog, signals
from taskorch.layout import Layout
from taskorch.screen import MOVING, SPINNER

LIMIT = 2000          # bytes of excerpt, the cut marker included
LINE_LIMIT = 300      # characters of one line: a long one keeps its start and end
READ_BYTES = 256 * 1024
HEIGHT = 50           # the pane's rows (runners/tmux.py starts sessions at 200x50)
REPEAT = 8            # the longest block of lines folded when it repeats
MIN_SUBSTRING = 24    # a line this long found inside a prompt is an echo of it (wrapped lines)

TOKEN = re.compile(r"\x1b\[([0-?]*)[ -/]*([@-~])"             # CSI
                   r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\|$)"    # OSC (titles, links)
                   r"|\x1b[P_^X][^\x1b]*(?:\x1b\\|$)"         # DCS, APC, PM, SOS
                   r"|\x1b[ -/]*[0-~]?"                       # ESC 7, ESC ( B, ESC M, ...
                   r"|[\x00-\x1f\x7f-\x9f\ufffd]")            # C0 and C1 controls, bad bytes
ALT_SCREEN = ("?1049", "?1047", "?47")
DRAWING = re.compile(r"[\u2500-\u259f]{3,}")  # rules, borders, block-letter logos
DECORATION = "❯›>│┃|▌▐ \t"


class Terminal:
    """Just enough of a terminal to turn a raw stream into the text it showed: lines without
    width (no wrapping), a screen of HEIGHT rows for absolute moves, and the alternate screen,
    whose last content is kept when the program leaves it (its error was on it)."""

    def __init__(self) -> None:
        self.lines: list[list[str]] = [[]]
        self.row = self.col = self.top = 0
        self.saved = (0, 0)
        self.main: tuple[list[list[str]], int, int, int] | None = None

    def feed(self, text: str) -> None:
        at = 0
        for match in TOKEN.finditer(text):
            if match.start() > at:
                self.put(text[at:match.start()])
            self.control(match)
            at = match.end()
        if at < len(text):
            self.put(text[at:])

    def text(self) -> list[str]:
        if self.main is not None:
            self.leave_alt()
        return ["".join(c for c in line if c).rstrip() for line in self.lines]

    # -- printing and moving ------------------------------------------------------------------

    def line(self) -> list[str]:
        while len(self.lines) <= self.row:
            self.lines.append([])
        return self.lines[self.row]

    def put(self, chunk: str) -> None:
        line = self.line()
        for char in chunk:
            if unicodedata.combining(char):
                continue
            cells = [char, ""] if unicodedata.east_asian_width(char) in "WF" else [char]
            if len(line) < self.col:
                line.extend(" " * (self.col - len(line)))
            line[self.col:self.col + len(cells)] = cells
            self.col += len(cells)

    def down(self, n: int = 1) -> None:
        self.row += n
        self.top = max(self.top, self.row - HEIGHT + 1)
        self.line()

    def up(self, n: int = 1) -> None:
        self.row = max(self.top, self.row - n)

    def go(self, row: int, col: int) -> None:
        self.row, self.col = self.top + min(max(row, 1), HEIGHT) - 1, max(col, 1) - 1
        self.line()

    def clear_screen(self) -> None:
        """What tmux does with a cleared screen: it scrolls into history. The screen starts
        below what was on it."""
        while self.lines and not any(c.strip() for c in self.lines[-1]) and \
                len(self.lines) > self.top:
            self.lines.pop()
        self.top = self.row = len(self.lines)
        self.lines.append([])

    def enter_alt(self) -> None:
        if self.main is None:
            self.main = (self.lines, self.row, self.col, self.top)
            self.lines, self.row, self.col, self.top = [[]], 0, 0, 0

    def leave_alt(self) -> None:
        assert self.main is not None
        shown = self.lines
        self.lines, _, _, _ = self.main
        self.main = None
        self.lines.extend(shown)
        self.row, self.col = len(self.lines), 0
        self.top = max(0, self.row - HEIGHT + 1)
        self.line()

    # -- control characters and sequences -----------------------------------------------------

    def control(self, match: re.Match[str]) -> None:
        token = match.group(0)
        if token == "\n":
            self.down()
            self.col = 0
        elif token == "\r":
            self.col = 0
        elif token == "\b":
            self.col = max(0, self.col - 1)
        elif token == "\t":
            self.col = (self.col // 8 + 1) * 8
        elif match.group(2):
            self.csi(match.group(1), match.group(2))
        elif token in ("\x1b7", "\x1b8"):
            if token == "\x1b7":
                self.saved = (self.row - self.top, self.col)
            else:
                self.row, self.col = self.top + self.saved[0], self.saved[1]
        elif token == "\x1bM":
            self.up()
        elif token in ("\x1bD", "\x1bE"):
            self.down()
            if token == "\x1bE":
                self.col = 0
        elif token == "\x1bc":
            self.clear_screen()
        # everything else (colours, modes, titles, bells, stray bytes) shows nothing

    def csi(self, params: str, final: str) -> None:
        if params[:1] in "<=>" and params:
            return  # private sequences such as \x1b[>4;0m: key modes, nothing drawn
        if final in "hl" and params.startswith("?"):
            if any(mode in params.split(";") for mode in ALT_SCREEN) or params in ALT_SCREEN:
                if final == "h":
                    self.enter_alt()
                elif self.main is not None:
                    self.leave_alt()
            return
        numbers = [int(p) if p.isdigit() else 0 for p in params.lstrip("?").split(";")]
        n = numbers[0] or 1
        line = self.line()
        if final == "A":
            self.up(n)
        elif final in "Be":
            self.down(n)
        elif final in "Ca":
            self.col += n
        elif final == "D":
            self.col = max(0, self.col - n)
        elif final == "E":
            self.down(n)
            self.col = 0
        elif final == "F":
            self.up(n)
            self.col = 0
        elif final in "G`":
            self.col = n - 1
        elif final in "Hf":
            self.go(numbers[0], numbers[1] if len(numbers) > 1 else 1)
        elif final == "d":
            self.go(n, self.col + 1)
        elif final == "K":
            mode = numbers[0]
            if mode == 0:
                del line[self.col:]
            elif mode == 1:
                line[:self.col + 1] = [" "] * min(len(line), self.col + 1)
            else:
                line.clear()
        elif final == "J":
            mode = numbers[0]
            if mode == 0:
                del line[self.col:]
                del self.lines[self.row + 1:]
            elif mode == 1:
                for above in self.lines[self.top:self.row]:
                    above.clear()
            elif mode == 2:
                self.clear_screen()
        elif final == "X":
            line[self.col:self.col + n] = [" "] * len(line[self.col:self.col + n])
        elif final == "P":
            del line[self.col:self.col + n]
        elif final == "@":
            line[self.col:self.col] = [" "] * n
        elif final == "s":
            self.saved = (self.row - self.top, self.col)
        elif final == "u":
            self.row, self.col = self.top + self.saved[0], self.saved[1]


def render(raw: str) -> list[str]:
    """The text a terminal showed for this raw stream, one string per line, escape-free."""
    term = Terminal()
    term.feed(raw)
    return term.text()


def quiet(lines: list[str]) -> list[str]:
    """Drawing goes (rules, borders, logos; a line left with only a prompt mark or a border is
    blank). Spinner redraws that landed on lines of their own (a `⠋ Working (3s)` per frame)
    fold into the last one; so do repeated lines, blocks of up to REPEAT lines printed again
    and again (a retry's error and "Retrying in 2.0 seconds..."), and runs of blank lines."""
    out: list[str] = []
    keys: list[str] = []
    for line in lines:
        line = DRAWING.sub("", line).rstrip()
        if not _plain(line):
            line = ""
        key = " ".join(MOVING.sub("", SPINNER.sub("", line)).split())
        if out and key == keys[-1]:
            out[-1] = line
            continue
        out.append(line)
        keys.append(key)
        for size in range(2, REPEAT + 1):  # a block printed again (a retry's lines): the last
            if len(keys) >= 2 * size and keys[-size:] == keys[-2 * size:-size]:
                del out[-2 * size:-size], keys[-2 * size:-size]
                break
    return out


def _plain(line: str) -> str:
    return " ".join(line.strip(DECORATION).split())


class Prompts:
    """The text of the prompts taskorch sent this task, for telling an echo of it from output.

    A line of a prompt is an echo wherever it shows, except the lines a retry prompt quoted of
    an earlier attempt's output: the same words may be this attempt's own output. Those count as
    an echo only in their place, right after the echoed line they follow in the current
    attempt's prompt."""

    def __init__(self, texts: list[str], quoted: list[str]) -> None:
        self.quoted = {_plain(line) for text in quoted for line in text.splitlines()} - {""}
        own = [_plain(line) for text in texts for line in text.splitlines()]
        own = [line for line in own if line and line not in self.quoted]
        self.lines = set(own)
        self.whole = " ".join(own)
        self.current = [p for p in (_plain(line) for line in (texts[-1] if texts else "")
                                    .splitlines()) if p]
        self.at = 0  # where in the current prompt the last echoed line was

    def _follow(self, plain: str) -> None:
        for start in (self.at, 0):
            if plain in self.current[start:]:
                self.at = self.current.index(plain, start) + 1
                return

    def echoes(self, line: str) -> bool:
        plain = _plain(line)
        if not plain:
            return False
        if plain in self.lines:
            self._follow(plain)
            return True
        if plain in self.quoted:
            if self.at < len(self.current) and self.current[self.at] == plain:
                self.at += 1
                return True
            return False
        cut = plain.rstrip("….").rstrip()
        return len(cut) >= MIN_SUBSTRING and cut in self.whole


def bounded(lines: list[str], limit: int = LIMIT) -> str:
    """The last lines that fit in `limit` bytes, with a first line saying what was cut."""
    lines = [line if len(line) <= LINE_LIMIT
             else line[:LINE_LIMIT // 2 - 1] + " … " + line[-(LINE_LIMIT // 2 - 2):]
             for line in lines]
    kept: list[str] = []
    size = 0
    room = limit - 40  # the marker's room
    for line in reversed(lines):
        need = len(line.encode()) + 1
        if size + need > room:
            break
        kept.append(line)
        size += need
    kept.reverse()
    cut = len(lines) - len(kept)
    if cut == 0:
        return "\n".join(kept)
    return "\n".join([f"[… {cut} earlier line(s) cut]", *kept])


def _read_tail(path: Path, start: int = 0) -> str:
    try:
        with open(path, "rb") as f:
            size = f.seek(0, 2)
            f.seek(max(start if start <= size else 0, size - READ_BYTES))
            return f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def _transcript(events: str, path: Path) -> list[str]:
    """The readable lines the profile's parser makes of an attempt's raw events."""
    parser = signals.parser(events)
    out: list[str] = []
    for line in _read_tail(path).splitlines():
        try:
            shown = parser.feed(line)
        except Exception:  # a parser's bug: the raw line, still cleaned below
            shown = line
        if shown:
            out.append(shown)
    return render("\n".join(out))


def _failure(layout: Layout, task_id: str, attempt: int) -> dict:
    try:
        value = json.loads(layout.failure_file(task_id, attempt).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def log_start(layout: Layout, task_id: str, attempt: int) -> int:
    """Where `attempt`'s output starts in the task's log (which every attempt appends to): the
    log's size when it was launched, else when the previous attempt's failure was recorded,
    else 0 (attemptlog.py)."""
    return attemptlog.start(layout, task_id, attempt)


def of_attempt(layout: Layout, task_id: str, attempt: int, events: str | None = None,
               limit: int = LIMIT) -> str:
    """The excerpt of attempt `attempt`'s output that its retry prompt quotes. It never raises:
    the failure it goes into must be recorded whatever the output holds."""
    try:
        return _excerpt(layout, task_id, attempt, events, limit)
    except Exception as exc:  # a bug here must not keep the failure from being recorded
        return f"[taskorch could not read the attempt's output: {type(exc).__name__}: {exc}]"


def _excerpt(layout: Layout, task_id: str, attempt: int, events: str | None, limit: int) -> str:
    error = None
    lines: list[str] = []
    if events in signals.PARSERS:
        raw = layout.events_file(task_id, attempt, signals.PARSERS[events].raw_suffix)
        lines = _transcript(events, raw)
        said = signals.load(layout.signals_file(task_id, attempt))
        error = said.error if said else None
    if not any(line.strip() for line in lines):
        lines = render(_read_tail(layout.log(task_id), log_start(layout, task_id, attempt)))
    sent = Prompts([_read_tail(layout.prompt_file(task_id, n)) for n in range(1, attempt + 1)],
                   [str(_failure(layout, task_id, n).get(key) or "")
                    for n in range(1, attempt) for key in ("log_tail", "verify_output")])
    lines = quiet([line for line in lines if not sent.echoes(line)])
    if error:
        lines += ["", "The agent reported this error: " + " ".join(render(error))[:600]]
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return bounded(lines, limit)
