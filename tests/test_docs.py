"""Every command documents itself with a summary and an example, and the README shows it."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from archiver.cli import cli

COMMANDS = sorted(cli.commands)


@pytest.mark.parametrize("command", COMMANDS)
def test_command_has_help_with_example(command: str) -> None:
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output
    assert f"archiver {command}" in result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_command_reference_in_readme(command: str) -> None:
    from conftest import REPO

    assert f"$ archiver {command} --help" in (REPO / "README.md").read_text(encoding="utf-8")


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("archiver, version ")


def _readme() -> str:
    from conftest import REPO

    return (REPO / "README.md").read_text(encoding="utf-8")


def _canned_queries() -> dict[str, dict[str, str]]:
    from conftest import REPO

    metadata = json.loads((REPO / "metadata.json").read_text(encoding="utf-8"))
    queries: dict[str, dict[str, str]] = metadata["databases"]["citations"]["queries"]
    return queries


@pytest.mark.parametrize("name", sorted(_canned_queries()))
def test_canned_query_title_in_readme(name: str) -> None:
    """The README names each query as Datasette shows it ("Check history" was "Check history
    of a link")."""
    assert f"*{_canned_queries()[name]['title']}*" in _readme()


def test_readme_names_only_commands_that_exist() -> None:
    """No `archiver resolve` (or any other command) is promised before it exists (issue 11)."""
    named = re.findall(r"(?:^|[`'$] ?)archiver ([a-z][a-z-]*)", _readme(), re.M)
    assert set(named) - set(COMMANDS) == set()


def test_the_python_example_in_the_readme_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README's "Use it from Python" block, run as written in an empty folder that has the
    example article (whose links were lost, so nothing is fetched)."""
    from conftest import EXAMPLE_ARTICLE

    block = re.search(r"<!-- python-example.*?-->\n```python\n(.*?)```", _readme(), re.S)
    assert block is not None
    (tmp_path / "examples").mkdir()
    shutil.copy(EXAMPLE_ARTICLE, tmp_path / "examples" / EXAMPLE_ARTICLE.name)
    monkeypatch.chdir(tmp_path)
    exec(compile(block.group(1), "README.md", "exec"), {})
    assert capsys.readouterr().out == "25 citations, 0 pages fetched\n"
    assert (tmp_path / "db" / "citations.db").exists()
