"""The run's report folders: one per shop day and run, marked until the report goes out.

``<reports dir>/<shop>/<YYYY-MM-DD>[-n]/`` is claimed fresh for each run (a report that was
produced, and maybe mailed, is never written over), holds ``UNFINISHED`` until its report went
out, and ``<shop>/latest`` points at the newest. Which report of its day a folder holds, and how
many earlier runs of the day never sent theirs, is read back from the folders alone
(``day_runs``). The report itself is written and delivered by ``recon.deliverables``.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime
from pathlib import Path

from recon.clock import shop_day

# The run's deliverables' logger: these lines keep the name they carried before this module.
log = logging.getLogger("recon.deliverables")


# In a report folder while its report has not gone out: a run that failed or was killed
# leaves it, so the day's later reports do not count that run (``day_runs``).
UNFINISHED = ".unfinished"


def report_folder(reports_dir: Path, shop: str, as_of: datetime, timezone: str) -> Path:
    """Create and return a fresh folder for this run's report, named by the shop's day.

    The first report of a shop day is ``<reports dir>/<shop>/<YYYY-MM-DD>/``; a later run of the
    same day (an on-demand run after the nightly) gets ``<YYYY-MM-DD>-2/``, ``-3/``...: a report
    that was produced, and maybe mailed, is never written over (``mark_latest`` points
    ``<shop>/latest`` at the newest). An empty folder (a run that died before writing) is used.
    The folder holds ``UNFINISHED`` until its report goes out (``mark_went_out``).

    Before recon named folders by the shop's day it named them by the UTC date, so on the night
    of the change a folder of tonight's name may hold another shop day's report (a Los Angeles
    run at 19:00 on 31 October wrote ``2026-11-01/``). That folder is moved aside to
    ``<name>-utc/`` (``-utc-2``... if taken), so the day's first report keeps the day's name.

    Raises:
        OSError: if the folder cannot be created, moved aside or marked.
    """
    day = shop_day(as_of, timezone)
    folder = reports_dir / shop / day.isoformat()
    written = _report_moment(folder / "findings.json")
    if written is not None and shop_day(written, timezone) != day:
        aside = unused_name(folder.with_name(f"{folder.name}-utc"))
        folder.rename(aside)
        log.warning(
            "%s held the report of %s UTC (another day in %s): kept as %s",
            folder, f"{written:%Y-%m-%d %H:%M}", timezone, aside.name,
        )  # fmt: skip
    folder.parent.mkdir(parents=True, exist_ok=True)
    claimed = _claim_fresh(folder)
    (claimed / UNFINISHED).write_text(
        f"recon began this report at {as_of:%Y-%m-%d %H:%M} UTC; it has not gone out (the run "
        "failed or was stopped, or is still running).\n",
        encoding="utf-8",
    )
    return claimed


def _claim_fresh(folder: Path) -> Path:
    """``folder``, or ``folder-2``, ``-3``...: the first that does not exist or is empty (or
    holds only the ``UNFINISHED`` mark of a run that died before writing anything)."""
    candidate, n = folder, 1
    while True:
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            if candidate.is_dir() and {p.name for p in candidate.iterdir()} <= {UNFINISHED}:
                return candidate
        n += 1
        candidate = folder.with_name(f"{folder.name}-{n}")


def run_of_day(folder: Path) -> int:
    """Which run of its shop day a report folder from ``report_folder`` holds: 1 for
    ``<YYYY-MM-DD>/``, n for ``<YYYY-MM-DD>-n/``."""
    _, _, suffix = folder.name[len("YYYY-MM-DD") :].partition("-")
    return int(suffix) if suffix.isdigit() else 1


def day_runs(folder: Path) -> tuple[int, int]:
    """(which report of its shop day that goes out ``folder``'s is, how many earlier runs of
    the day began a report that did not go out): what the mail and report name.

    The day's earlier folders still marked ``UNFINISHED`` are runs that failed or were stopped
    before their report went out; the others (folders of a version without the mark too)
    went out.
    """
    day = folder.name[: len("YYYY-MM-DD")]
    went_out = unfinished = 0
    for n in range(1, run_of_day(folder)):
        earlier = folder.with_name(day if n == 1 else f"{day}-{n}")
        if not earlier.is_dir():
            continue  # removed by hand: nothing to count
        if (earlier / UNFINISHED).exists():
            unfinished += 1
        else:
            went_out += 1
    return went_out + 1, unfinished


def mark_went_out(folder: Path) -> None:
    """Record that ``folder``'s report went out (written and handed to delivery).

    Raises:
        OSError: the mark cannot be removed.
    """
    (folder / UNFINISHED).unlink(missing_ok=True)


LATEST = "latest"


def mark_latest(folder: Path) -> None:
    """Point ``<shop>/latest`` at ``folder`` (a relative symlink, replaced atomically).

    Only a convenience: where the file system has no symlinks the run goes on (logged), and the
    newest report is the day's folder with the highest suffix.
    """
    link = folder.parent / LATEST
    temporary = folder.parent / f".{LATEST}.{os.getpid()}"
    try:
        temporary.unlink(missing_ok=True)
        temporary.symlink_to(folder.name, target_is_directory=True)
        temporary.replace(link)
    except OSError as exc:
        log.warning("could not point %s at %s: %s", link, folder.name, exc)


def _report_moment(findings_json: Path) -> datetime | None:
    """When the report in a folder was made (its findings.json ``as_of``), or None if unknown."""
    try:
        moment = datetime.fromisoformat(json.loads(findings_json.read_text("utf-8"))["as_of"])
    except (OSError, ValueError, KeyError, TypeError):
        return None  # no report there, or not one recon can date: written over, as before
    return moment if moment.tzinfo is not None else None


def unused_name(path: Path) -> Path:
    """``path``, or ``<stem>-2<suffix>``, ``-3``...: the first name nothing has yet."""
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate
