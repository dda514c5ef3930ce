"""Turn what the heartbeat observed about one task into a verdict. Pure: no I/O here.

Order matters: an exit is the strongest evidence (with what the agent's own output said, when
its profile reads that: an exit 0 after a reported error is a failure), then a vanished session,
then what the screen says (a question, the agent idle at its own prompt), and only then the
stall clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from taskorch import hooks, screen as screens
from taskorch.agents import AgentProfile
from taskorch.hooks import Heard
from taskorch.runners.base import Pane


# What an agent's own words may add to a reason: enough to act on, never a whole log.
SAID_WIDTH = 500
# How long a settled screen waits for the hook of a profile whose hooks tell each turn's end
# (codex's notify is a new process, seconds late under load). After it, the screen is believed:
# a user's agent build that never calls its hook is judged, only later.
HOOK_GRACE = 15.0


@dataclass(frozen=True)
class Exit:
    code: int
    signal: int | None = None
    error: str | None = None  # the error the agent's own output reported (signals), if any
    said: str | None = None   # its last message
    unfinished: str | None = None  # the engine's word on a job that ended with no exit status

    def describe(self) -> str:
        if self.unfinished:
            return f"did not finish: {bounded(self.unfinished)}"
        how = f"was killed by signal {self.signal}" if self.signal else f"exited {self.code}"
        return how + (f": {bounded(self.error)}" if self.error else "")


def bounded(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= SAID_WIDTH else line[:SAID_WIDTH - 1] + "…"


def last_words(exit: Exit | None) -> str:
    """The agent's last message, for a reason saying why nothing was done (a question, say)."""
    return f"; its last message: {bounded(exit.said)!r}" if exit and exit.said else ""


@dataclass(frozen=True)
class Observation:
    pane: Pane | None     # None: the runner no longer lists the session (or cannot be reached)
    exit: Exit | None     # from the wrapper's exit file, or the dead pane
    says: str             # what the screen shows: 'waiting:<question>', 'error:<line>', 'idle', ''
    steady: bool          # the screen is the same as at the previous look
    idle_seconds: float   # since the last real progress (or the last nudge)
    alive: bool = False   # no session seen, but the agent's processes still run (runner.alive)
    heard: bool = False   # `says` is the agent's own hook's word, not a guess from its screen
    said: str = ""        # the agent's last message, from its events or its hook
    on_screen: bool = True  # a question its hook named shows on the screen: keys reach it
    hook_due: bool = False  # its hooks tell each turn's end, and none has spoken this attempt


@dataclass(frozen=True)
class Verdict:
    kind: str  # exited | failed | unseen | lost | waiting | idle | stalled | running
    reason: str
    question: str = ""


def reading(profile: AgentProfile, text: str) -> str:
    """What a freshly captured screen says, kept in the store between captures:
    'waiting:<question>', 'error:<line>', 'idle' or ''.

    - A question is judged from the prompt at the bottom (screen.bottom): a question that has
      scrolled up is history, and a side panel's text is not the conversation.
    - A busy marker anywhere on the screen vetoes idle: codex keeps its composer and Claude its
      input box on screen while they work.
    - An interactive agent idle at its prompt with an `error` pattern anywhere on the screen
      failed: that line is the reason (codex `■ exceeded retry limit`, Claude `● API Error`).
    """
    prompt = screens.bottom(text)
    # Answerable questions first, so the line kept is the one its answer's pattern matches.
    question = (screens.find(tuple(a.match for a in profile.answers), prompt)
                or screens.find(profile.waiting, prompt))
    if question:
        return f"waiting:{question}"
    if not profile.interactive:
        return ""
    whole = "\n".join(screens.rows(text))
    if screens.find(profile.busy, whole) or not screens.find(profile.idle, prompt):
        return ""
    error = screens.find(profile.error, whole)
    return f"error:{error}" if error else "idle"


def question_in(said: str) -> str | None:
    """The agent's last message when it ends on a question: a turn that did nothing and asks
    something waits for a person, whether a dialog or prose asked it."""
    lines = [line.strip().rstrip("*_`\"' ").strip() for line in said.splitlines() if line.strip()]
    return bounded(said) if lines and lines[-1].endswith("?") else None


def overruled(heard: Heard | None, says: str, asks: bool = False) -> str:
    """What the screen's reading becomes once the agent's own hook has spoken (hooks/): the
    last hook event is a fact, the screen a guess. A question the hook names is read in its
    words; a dialog at the bottom of the screen it did not name (a first-run dialog) still
    counts as a question, unless the hooks report every question (`asks`): then a question
    on screen they did not report is the transcript's echo of one answered."""
    if heard is not None and heard.fact == hooks.ASKING:
        return f"waiting:{heard.detail}"  # its words, not the dialog's footer on screen
    if heard is None or (says.startswith("waiting:") and not asks):
        return says
    if heard.fact == hooks.FAILED:
        return f"error:{heard.detail}"
    if heard.fact == hooks.FINISHED:
        # Neither agent says "finished" for a turn that failed (Claude: StopFailure; codex: no
        # notify), and an error line on screen may be the retry prompt quoting the last one.
        return "idle"
    return ""  # working: whatever the screen shows, it is not idle


def classify(obs: Observation, profile: AgentProfile, stall_seconds: float) -> Verdict:
    if obs.exit is not None:
        if obs.exit.code == 0 and obs.exit.signal is None and obs.exit.error:
            # aider exits 0 after giving up on a 429; a turn can fail after a commit
            return Verdict("failed", f"the agent exited 0, but its output reports an error: "
                                     f"{bounded(obs.exit.error)}")
        if obs.exit.code == 0 and obs.exit.signal is None:
            return Verdict("exited", "the agent exited 0")
        return Verdict("failed", f"the agent {obs.exit.describe()}")
    if obs.pane is None and obs.alive:
        return Verdict("unseen", "its session cannot be seen, but its agent still runs; left "
                       "alone (has the runner lost sight of it? a deleted socket, say)")
    if obs.pane is None:
        return Verdict("lost", "its session is gone (its runner no longer lists it, and its "
                       "agent is not running)")
    if obs.pane.dead:
        return Verdict("failed", "the agent exited and its runner did not record its status")
    if obs.says.startswith("waiting:"):
        question = obs.says.split(":", 1)[1]
        return Verdict("waiting", f"waiting for input: {question}", question)
    settled = obs.steady or obs.heard  # a hook's word needs no second look at the screen
    if obs.says.startswith("error:") and settled and profile.interactive:
        return Verdict("failed", "idle at its own prompt after an error on its screen: "
                       + bounded(obs.says.split(":", 1)[1]))
    if obs.says == "idle" and settled and profile.interactive:
        if obs.hook_due and obs.idle_seconds < HOOK_GRACE:
            # The hook carries the turn's last message (a question, say), and it lands a moment
            # after the screen settles: judged without it, a question read as no work done.
            return Verdict("running", "idle on its screen; its hook's word is awaited")
        return Verdict("idle", "idle at its own prompt after finishing")
    if obs.idle_seconds >= stall_seconds:
        return Verdict("stalled", f"no progress for {obs.idle_seconds / 60:.1f} min")
    return Verdict("running", "working")
