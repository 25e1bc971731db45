"""A built wheel runs on its own: it carries the report templates (kept at the repository's top
level, ``templates/``) and every data file recon reads at run time, and an install of it writes
the nightly reports with the source checkout nowhere on ``sys.path`` (a Docker image built with
``pip install .``, not the editable install ``make`` uses).

The wheel is built as pip builds it for ``pip install .``: in an isolated environment holding the
build requirements pyproject.toml declares (setuptools>=77, for its PEP 639 licence; the venv's
own setuptools may be older, so ``--no-build-isolation`` cannot be used), from a copy of the
sources, so that the build writes nothing into the checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# What a build reads: the package, the templates mapped into it, and the packaging files.
SOURCES = ("pyproject.toml", "setup.py", "README.md", "recon", "templates")

pytestmark = pytest.mark.slow


def _copy_sources(target: Path) -> Path:
    target.mkdir()
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():  # setup.py: absent before the templates were mapped
            shutil.copy2(source, target / name)
    return target


def _run(*args: str | Path, env: dict[str, str] | None = None, cwd: Path) -> str:
    done = subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [str(a) for a in args], capture_output=True, text=True, env=env, cwd=cwd, timeout=240
    )
    assert done.returncode == 0, f"{args[:4]} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel pip builds from the sources."""
    work = tmp_path_factory.mktemp("wheel")
    source = _copy_sources(work / "src")
    _run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "-q",
        "--no-deps",
        "-w",
        work / "dist",
        source,
        cwd=work,
    )
    (built,) = (work / "dist").glob("recon-*.whl")
    return built


def _run_time_files() -> set[str]:
    """Every file recon reads at run time, as the wheel names it: the templates, under
    ``recon/templates/``, and every file of the package that is not compiled Python
    (GraphQL documents, the sandbox schema, alembic.ini, the migration scripts...)."""
    names = {f"recon/templates/{p.name}" for p in (ROOT / "templates").iterdir() if p.is_file()}
    for path in (ROOT / "recon").rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            names.add(path.relative_to(ROOT).as_posix())
    return names


def test_the_wheel_carries_the_templates_and_every_run_time_file(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        held = set(archive.namelist())
    assert {"recon/templates/report.html.j2", "recon/templates/email.txt.j2"} <= held
    missing = sorted(_run_time_files() - held)
    assert not missing, f"the wheel lacks {missing}"
    # The templates are recon's, not a top-level package of their own in site-packages.
    assert not any(name.startswith("templates/") for name in held)


def test_an_installed_wheel_writes_the_reports_without_the_source_checkout(
    wheel: Path, tmp_path: Path
) -> None:
    """Installed into a folder of its own and imported from there, with only the venv's
    site-packages beside it for the dependencies (``-S``: no .pth file, so not the editable
    install either), recon writes report.html and exceptions.xlsx and renders the e-mails."""
    target = tmp_path / "installed"
    _run(
        sys.executable,
        "-m",
        "pip",
        "install",
        "-q",
        "--no-deps",
        "--target",
        target,
        wheel,
        cwd=tmp_path,
    )
    script = tmp_path / "nightly_reports.py"
    script.write_text(_RENDER, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONPATH"] = os.pathsep.join([str(target), sysconfig.get_paths()["purelib"]])
    out = _run(sys.executable, "-S", script, tmp_path / "reports", env=env, cwd=tmp_path)
    installed_from, templates = out.split()
    assert Path(installed_from).is_relative_to(target)
    assert Path(templates) == target / "recon" / "templates"
    html = (tmp_path / "reports" / "report.html").read_text(encoding="utf-8")
    assert "<h1>Returns reconciliation: sandbox</h1>" in html
    assert (tmp_path / "reports" / "exceptions.xlsx").stat().st_size > 0
    assert "Open findings: 0" in (tmp_path / "reports" / "email.txt").read_text("utf-8")


_RENDER = textwrap.dedent(
    """
    import sys
    from datetime import UTC, date, datetime
    from pathlib import Path

    import pandas as pd

    import recon
    from recon.reporting.exceptions_xlsx import write_run_reports
    from recon.reporting.figures import build_report_data
    from recon.reporting.html import render_email, template_folder

    assert not any(Path(p, "run_recon.py").exists() for p in sys.path if p), sys.path
    data = build_report_data(
        findings=[], matches=pd.DataFrame(), payout_tieout=pd.DataFrame(), actions=[],
        store_credit=[], previous_findings=None, shop="sandbox",
        shop_domain="recon-sandbox.myshopify.com", period_start=date(2026, 10, 1),
        period_end=date(2026, 11, 1), run_id="run-1", as_of=datetime(2026, 11, 1, 2, tzinfo=UTC),
    )
    folder = Path(sys.argv[1])
    write_run_reports(data, folder)
    text, _ = render_email(data, "finance")
    (folder / "email.txt").write_text(text, encoding="utf-8")
    print(recon.__file__, template_folder())
    """
)
