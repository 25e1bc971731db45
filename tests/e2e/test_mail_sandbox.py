"""What the e-mails of a sandbox run say, read back from the outbox as finance receives them."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from test_nightly_sandbox import sandbox_settings

from recon.bootstrap import build_app
from recon.delivery import read_eml
from recon.service import RunOutcome, run_nightly

pytestmark = pytest.mark.e2e


def _mails(outbox: Path, outcome: RunOutcome) -> dict[str, EmailMessage]:
    """The run's e-mails by team."""
    mails = [read_eml(p) for p in outbox.glob("*.eml")]
    return {str(m["X-Recon-Team"]): m for m in mails if m["X-Recon-Run"] == outcome.run_id}


def _text(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None
    return " ".join(str(part.get_content()).split())


def test_a_later_run_of_the_day_says_which_run_it_is_in_its_subject(tmp_path: Path) -> None:
    """The nightly and an on-demand run of the same shop day mailed finance two messages with
    one subject; the second run's report is in ``<day>-2/``. Its mails now say "(run 2)", as
    its folder does, and the first run's subject is as it always was."""
    settings = sandbox_settings(tmp_path, seed=2, returns=60)
    outbox = settings.delivery.outbox_dir
    with build_app(settings) as app:
        nightly = run_nightly(app)
        app.clock.advance(timedelta(hours=4))  # type: ignore[attr-defined]
        on_demand = run_nightly(app)
    assert on_demand.report_dir.name == "2026-11-01-2"
    first, second = _mails(outbox, nightly), _mails(outbox, on_demand)
    assert set(first) == set(second) and "finance" in first
    count = len(nightly.open_findings)
    assert str(first["finance"]["Subject"]) == (
        f"[recon] sandbox 2026-11-01: {count} open findings (finance)"
    )
    assert str(second["finance"]["Subject"]) == (
        f"[recon] sandbox 2026-11-01 (run 2): {len(on_demand.open_findings)} open findings "
        "(finance)"
    )
    for team, mail in second.items():
        assert "2026-11-01 (run 2): " in str(mail["Subject"]), team
        for subtype in ("plain", "html"):
            assert "run 2 of the day (folder 2026-11-01-2)" in _text(mail, subtype), team
    for team, mail in first.items():
        assert "(run " not in str(mail["Subject"]), team
        assert "of the day" not in _text(mail, "plain"), team
