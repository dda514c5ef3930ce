"""The one base of every error taskorch reports to a person.

Each kind (a manifest's, git's, a runner's, a forge's...) subclasses it and says in one line
what went wrong and what to do. Code that must get past any of them, such as a heartbeat step
for one task, catches TaskorchError rather than a list of classes that falls out of date.
"""


class TaskorchError(Exception):
    """A problem to report in one line, naming what to do about it."""
