"""The README's two commands are the ones CI and users run."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    blocks = text.split("```bash\n")[1:3]
    return [block.split("\n```", 1)[0].strip() for block in blocks]


def test_readme_opens_with_the_main_job_and_the_test_command():
    main, tests = commands()
    assert "doit launch" in main and main.startswith("pip install")
    assert "pytest" in tests


def test_ci_runs_exactly_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert commands()[1] in ci


def test_the_readme_prerequisites_are_what_ci_installs():
    # .ci/run installs a Debian package for each missing program; the README must name them all
    ci = (ROOT / ".ci" / "run").read_text()
    packages = set(re.findall(r"command -v \S+ .*missing\+=\((\S+)\)", ci))
    readme = (ROOT / "README.md").read_text()
    stated = re.search(r"`apt-get install -y ([^`]+)`", readme)
    assert packages and stated and packages <= set(stated.group(1).split()), (packages, stated)
