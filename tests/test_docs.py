"""Every command documents itself with a summary and an example, and the README shows it."""

from __future__ import annotations

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
