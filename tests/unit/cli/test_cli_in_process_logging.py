"""A command run in the test process (``cli.main()``, as a few CLI tests do to shorten a timeout)
must not leave its log handler behind for the tests after it.

The command installs one stderr handler on the root logger (``recon.logs.configure_logging``),
bound to the ``sys.stderr`` of that moment: the test's captured stderr, which pytest closes when
the test ends. Every later warning in that worker then failed to write and printed
``--- Logging error ---`` with a traceback: inside a later test's captured output, or straight
into the CI log when a thread (an asyncio loop's garbage, a sandbox server, a SQLAlchemy pool)
logged while no test was capturing. ``tests/conftest.py`` puts the root logger back after each
test; this runs two tests in a pytest of their own, with that conftest as a plugin and without
capture (``-s``), so such an error would be printed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]

TESTS = """
import logging
import sys


def test_a_command_run_in_this_process(tmp_path, monkeypatch, capsys):
    from recon import cli

    config = tmp_path / "recon.toml"
    config.write_text('[store]\\nurl = "sqlite:///recon.db"\\n', encoding="utf-8")
    monkeypatch.setattr(sys, "argv", ["run_recon.py", "actions", "list", "--config", str(config)])
    try:
        cli.main()
    except SystemExit as ended:
        assert not ended.code, capsys.readouterr().err
    assert logging.getLogger().handlers  # the command's own stderr handler, while it ran


def test_a_warning_a_later_test_logs():
    logging.getLogger("recon.later").warning("a warning after a command ran in this process")
"""


def test_a_command_run_in_the_test_process_leaves_no_handler_on_a_closed_stream(
    tmp_path: Path,
) -> None:
    (tmp_path / "test_in_process.py").write_text(TESTS, encoding="utf-8")
    pytest = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-s",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:xdist",
    ]
    here = ["-p", "tests.conftest", "--rootdir", str(tmp_path), str(tmp_path)]
    # S603: fixed arguments, this interpreter and a test file this test wrote.
    ran = subprocess.run(  # noqa: S603
        [*pytest, *here],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = ran.stdout + ran.stderr
    assert ran.returncode == 0, output
    assert "2 passed" in output, output
    assert "Logging error" not in output, output
