"""What README.md, docs/commands.md and bench/README.md tell a user to type, and the exit codes
they promise, are what the code has.

An integration engineer copies a command line from the README into cron, and a wrapper script
branches on the exit codes it lists: an option the CLI does not have is a usage error at 02:00,
and an exit code the README lists that nothing raises (or one raised that it does not list) is
a failure nobody handles.
"""

from __future__ import annotations

import ast
import re
import signal
from pathlib import Path
from typing import Any

import pytest
import typer

import recon.errors
from recon.cli import app
from recon.config import FaultSettings

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
COMMANDS = (ROOT / "docs" / "commands.md").read_text(encoding="utf-8")


def _section(text: str, title: str) -> str:
    return text.split(f"## {title}", 1)[1].split("\n## ", 1)[0]


def _command_options(words: list[str]) -> tuple[list[str], set[str]]:
    """The sub-command path ``words`` starts with, and every option along that path."""
    command: Any = typer.main.get_command(app)
    path: list[str] = []
    options: set[str] = set()
    for word in words:
        commands = getattr(command, "commands", {})
        if word not in commands:
            break
        command = commands[word]
        path.append(word)
        options |= {o for param in command.params for o in getattr(param, "opts", [])}
    return path, options


def _readme_usages() -> list[str]:
    """Command lines the README shows (the Commands table's first column) and every
    ``run_recon.py ...`` in backticks in the README and docs/commands.md."""
    usages = []
    for line in _section(README, "Commands").splitlines():
        if line.startswith("| `"):
            usages += re.findall(r"`([a-z][^`]*)`", line.split(" | ")[0])
    for text in (README, COMMANDS.replace("\n", " ")):
        usages += re.findall(r"`[^`]*run_recon\.py ([a-z][^`]*)`", text)
    return usages


@pytest.mark.parametrize("usage", _readme_usages())
def test_every_command_and_option_the_readme_shows_exists(usage: str) -> None:
    words = usage.strip("`").split()
    path, options = _command_options(words)
    assert path and path[0] == words[0], f"{usage!r}: no command {words[0]!r}"
    missing = sorted(set(re.findall(r"--[a-z][a-z-]*", usage)) - options)
    assert missing == [], f"{usage!r}: {' '.join(path)} has no {missing}"


def _readme_exit_codes() -> set[int]:
    paragraph = README.split("\nExit codes: ", 1)[1].split("\n\n", 1)[0].replace("\n", " ")
    found = re.findall(r"(?:^|, )(\d+)(?: / (\d+))? (?=[a-zA-Z])", paragraph)
    return {int(code) for pair in found for code in pair if code}


def _raised_exit_codes() -> set[int]:
    """0, and every exit code an error of recon's tree carries (a signal's: 128 + its number)."""
    codes = {0}
    for error in vars(recon.errors).values():
        if isinstance(error, type) and issubclass(error, recon.errors.ReconError):
            if error is recon.errors.RunInterruptedError:
                codes |= {128 + signal.SIGINT, 128 + signal.SIGTERM}
            else:
                codes.add(error.exit_code)
    return codes


def test_the_readme_lists_exactly_the_exit_codes_recon_exits_with() -> None:
    assert _readme_exit_codes() == _raised_exit_codes()


def _commands_doc_exit_codes() -> set[int]:
    """The first column of docs/commands.md's exit-code table (``130 / 143`` is two codes)."""
    table = COMMANDS.split("## Exit codes", 1)[1].split("\n\n", 2)[1]
    rows = [line.split("|")[1] for line in table.splitlines() if re.match(r"\| \d", line)]
    return {int(code) for row in rows for code in row.split("/")}


def test_the_commands_doc_lists_exactly_the_exit_codes_recon_exits_with() -> None:
    assert _commands_doc_exit_codes() == _raised_exit_codes()


def test_every_command_of_the_cli_has_its_section_in_the_commands_doc() -> None:
    """The README's table sends readers to docs/commands.md for each command's details."""
    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    sections = set(re.findall(r"^## ([a-z]+)$", COMMANDS, flags=re.MULTILINE))
    assert set(commands) - sections == set()


def test_the_readme_names_every_sandbox_fault_of_the_settings() -> None:
    """The ``[sandbox.faults]`` keys listed in "The sandbox" (``seed`` is the faults' random
    sequence, not a fault) are the settings', and each ``sandbox`` fault option sets one."""
    listed = _section(README, "The sandbox").split("`[sandbox.faults]` table in", 1)[1]
    listed = listed.split("):", 1)[0]
    faults = set(FaultSettings.model_fields) - {"seed"}
    assert set(re.findall(r"`([a-z_]+)`", listed)) == faults
    _, options = _command_options(["sandbox"])
    flags = {o.removeprefix("--").replace("-", "_") for o in options if o.startswith("--")}
    flags = {"latency_seconds" if f == "latency" else f for f in flags}
    assert sorted(flags - {"world", "seed", "returns", "host", "shopify_port", "loop_port",
                           "help", "no_throttle_storm"} - faults) == []  # fmt: skip


def _bench_commands() -> list[tuple[str, str]]:
    text = (ROOT / "bench" / "README.md").read_text(encoding="utf-8")
    # A command's backticks may span lines ("[--runs 3]\n[--profile]").
    return re.findall(r"`[^`]*?(bench/[a-z_]+\.py)([^`]*)`", text.replace("\n", " "))


def _script_options(script: str) -> set[str]:
    tree = ast.parse((ROOT / script).read_text(encoding="utf-8"))
    return {
        arg.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument"
        for arg in node.args
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
    }


@pytest.mark.parametrize(("script", "args"), _bench_commands())
def test_every_bench_command_names_a_script_and_options_it_has(script: str, args: str) -> None:
    assert (ROOT / script).is_file(), script
    missing = sorted(set(re.findall(r"--[a-z][a-z-]*", args)) - _script_options(script))
    assert missing == [], f"{script} has no {missing}"
