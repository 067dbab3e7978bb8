"""Every install line names the distribution gitreg-ml: the bare name ``gitreg`` on the package
index belongs to an unrelated project, so a line that installs it installs someone else's code."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from gitreg.cli import cli

ROOT = Path(__file__).resolve().parents[2]
# What a user reads or a workflow runs: the docs, the template, the action, the examples, and
# the messages the CLI prints.
SOURCES = [
    ROOT / "README.md",
    ROOT / "action.yml",
    *sorted((ROOT / "registry-template").rglob("*")),
    *sorted((ROOT / "examples").rglob("*")),
    *sorted((ROOT / "gitreg").rglob("*.py")),
]
# `pip install gitreg`, `pip install 'gitreg[mlflow]'`, `"gitreg @ git+..."`: the name followed
# by an extra, a version operator, a direct reference or the end of the requirement.
BARE = re.compile(r"""(?:pip install[^\n]*?|PIP_SPEC:\s*)["']?gitreg(?=[\[@ <>=~!"'\n]|$)""")
OTHER_PROJECT = "pypi.org/project/gitreg/"


def offending_lines() -> list[str]:
    out = []
    for path in SOURCES:
        if not path.is_file():
            continue
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if BARE.search(line) or OTHER_PROJECT in line:
                out.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    return out


def test_every_install_line_names_gitreg_ml() -> None:
    assert offending_lines() == []


def test_the_rule_catches_the_bare_name() -> None:
    for bad in [
        "pip install gitreg",
        "pip install 'gitreg[mlflow]'",
        'GITREG_PIP_SPEC: "gitreg @ git+https://github.com/your-org/gitreg@v0.1.0"',
        "python -m pip install -q gitreg==0.1",
    ]:
        assert BARE.search(bad), bad
    for good in [
        "pip install gitreg-ml",
        "pip install 'gitreg-ml[mlflow]'",
        'GITREG_PIP_SPEC: "gitreg-ml @ git+https://github.com/your-org/gitreg@v0.1.0"',
        'python -m pip install --quiet "$ACTION_PATH"',
    ]:
        assert not BARE.search(good), good


def test_the_template_readme_names_the_install_and_no_other_index_page() -> None:
    text = (ROOT / "registry-template/README.md").read_text()
    assert "pip install gitreg-ml" in text and OTHER_PROJECT not in text


def test_version_names_the_installed_distribution() -> None:
    """``--version`` looks the version up by distribution name: after the rename to gitreg-ml
    the old name raised a traceback."""
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("gitreg 0.") and "Traceback" not in result.output
