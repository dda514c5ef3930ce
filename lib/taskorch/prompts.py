"""Render prompts from the user's Jinja templates in `prompts/`, sandboxed and strict.

Issue titles and bodies are only ever variables: no text from an issue becomes template source.
The sandbox keeps a template from reaching Python internals, and StrictUndefined turns a typo into
an error that names the template and line.
"""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from taskorch.errors import TaskorchError

if TYPE_CHECKING:
    from jinja2.sandbox import SandboxedEnvironment

TASK_TEMPLATE = "task.md.j2"


class PromptError(TaskorchError):
    """A template could not be rendered; the message names the template and line."""


def environment(prompts_dir: Path) -> "SandboxedEnvironment":
    # Imported here: most heartbeats render nothing, and jinja2 is a fifth of their imports.
    import jinja2
    from jinja2.sandbox import SandboxedEnvironment

    class InsidePrompts(jinja2.FileSystemLoader):
        """A template (or a partial) may not be a symlink to a file outside prompts/."""

        def get_source(self, environment, template):  # type: ignore[no-untyped-def]
            source, filename, uptodate = super().get_source(environment, template)
            if not Path(filename).resolve().is_relative_to(prompts_dir.resolve()):
                raise jinja2.TemplateNotFound(f"{template} (it points outside prompts/)")
            return source, filename, uptodate

    return SandboxedEnvironment(
        loader=InsidePrompts(str(prompts_dir)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,  # a line holding only a {% tag %} leaves no blank line behind
        lstrip_blocks=True,
    )


def render(prompts_dir: Path, template: str, context: dict[str, Any]) -> str:
    """Render `template` (a name inside prompts_dir) with `context`."""
    import jinja2

    env = environment(prompts_dir)
    try:
        return env.get_template(template).render(**context)
    except jinja2.TemplateNotFound as exc:
        raise PromptError(f"prompts/{exc.name}: template not found; create it or fix the name") from None
    except jinja2.TemplateSyntaxError as exc:
        raise PromptError(f"prompts/{exc.name or template}:{exc.lineno}: {exc.message}; "
                          "fix the template") from None
    except jinja2.exceptions.SecurityError as exc:
        raise PromptError(f"{_where(exc, template, prompts_dir)}: {exc}; templates may not reach Python internals") from None
    except jinja2.UndefinedError as exc:
        raise PromptError(f"{_where(exc, template, prompts_dir)}: {exc.message}; check the variable's spelling "
                          "(see prompts/README.md for the variables)") from None
    except Exception as exc:  # anything else a template can provoke: %-formats, huge ranges...
        raise PromptError(f"{_where(exc, template, prompts_dir)}: {type(exc).__name__}: {exc}; "
                          "fix the template") from None


def _where(exc: BaseException, template: str, prompts_dir: Path) -> str:
    """prompts/<template>:<line> from the template frames of a render-time traceback."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.endswith(".j2")]
    if not frames:
        return f"prompts/{template}"
    frame = frames[-1]
    try:
        name = Path(frame.filename).resolve().relative_to(prompts_dir.resolve())
    except ValueError:
        name = Path(Path(frame.filename).name)
    return f"prompts/{name}:{frame.lineno}"
