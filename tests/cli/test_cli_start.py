"""``atomiton --help`` and ``atomiton nodes`` start without the heavy libraries.

Each case runs the real command in a fresh interpreter and reads ``sys.modules`` at exit (an
``atexit`` hook registered before the CLI is imported), so a stray top-level import anywhere in
the command's import chain fails here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from atomiton.cli import COMMANDS, load_command, main
from atomiton.nodes import registry

_PROBE = """\
import atexit, json, sys

_OUT = sys.argv[1]

def _dump():
    with open(_OUT, "w") as out:
        json.dump(sorted(sys.modules), out)

atexit.register(_dump)
sys.argv = ["atomiton", *sys.argv[2:]]
from atomiton.cli import main
main(prog_name="atomiton")
"""

HEAVY = (
    "black",
    "mypy",
    "jinja2",
    "pydantic",
    "rich",
    "yaml",
    "atomiton.compiler",
    "atomiton.runtime",
)


def _modules_after(tmp_path: Path, *args: str) -> set[str]:
    out = tmp_path / "modules.json"
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, str(out), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(out.read_text()))


# Listing node types reads the registry, which finds node modules without importing them.
_LISTING = frozenset({"atomiton.nodes", "atomiton.nodes.registry"})


def _heavy(modules: set[str]) -> list[str]:
    return sorted(
        m
        for m in modules - _LISTING
        if m.startswith("atomiton.nodes") or any(m == h or m.startswith(h + ".") for h in HEAVY)
    )


@pytest.mark.parametrize(
    "args", [("--help",), ("nodes",), ("--version",)], ids=["help", "nodes", "version"]
)
def test_start_imports_nothing_heavy(tmp_path: Path, args: tuple[str, ...]) -> None:
    modules = _modules_after(tmp_path, *args)
    assert "atomiton.cli" in modules  # the probe did run the command
    assert _heavy(modules) == []


def test_help_loads_no_command_module(tmp_path: Path) -> None:
    modules = _modules_after(tmp_path, "--help")
    assert not {f"atomiton.cli.{entry.module}" for entry in COMMANDS.values()} & modules


def test_a_commands_own_help_loads_only_that_command(tmp_path: Path) -> None:
    modules = _modules_after(tmp_path, "nodes", "--help")
    assert "atomiton.cli.nodes_cmd" in modules
    assert "atomiton.cli.run_cmd" not in modules
    assert _heavy(modules) == []


def test_the_probe_sees_heavy_imports(tmp_path: Path) -> None:
    # The same probe on a command that needs the compiler: proves the check above can fail.
    blueprint = Path(__file__).parents[2] / "examples" / "hello_world.yaml"
    modules = _modules_after(tmp_path, "graph", str(blueprint))
    assert "atomiton.compiler" in modules
    assert "yaml" in modules


@pytest.mark.parametrize("name", list(COMMANDS))
def test_kept_summary_matches_the_command(name: str) -> None:
    command = load_command(name)
    assert command.name == name
    assert command.get_short_help_str(10_000) == COMMANDS[name].summary


def test_help_lists_every_command_in_workflow_order() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0, result.output
    listed = [
        line.split()[0]
        for line in result.output.split("Commands:")[1].split("Examples:")[0].splitlines()
        if line.strip()
    ]
    assert listed == list(COMMANDS)


def test_every_command_runs_through_the_lazy_group() -> None:
    for name in COMMANDS:
        result = CliRunner().invoke(main, [name, "--help"])
        assert result.exit_code == 0, result.output
        assert f"Usage: main {name}" in result.output


def test_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["rnu"])
    assert result.exit_code == 2
    assert "No such command 'rnu'" in result.output


def test_nodes_list_prints_every_type() -> None:
    result = CliRunner().invoke(main, ["nodes"])
    assert result.exit_code == 0, result.output
    names = [line.split()[0] for line in result.output.splitlines()]
    assert names == registry.type_names()
    assert isinstance(load_command("nodes"), click.Command)
