"""``[loop] details_reask_per_night`` and ``[loop] details_reask_stop_after`` bound the nightly
re-asks of unread Loop Get Return Details (they were constants: 100 a night, none after three
in a row that Loop failed to answer). Set in the file, they are what the nightly does; the
defaults are unchanged; 0 or less is refused naming the key (tests/unit/config)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from recon.bootstrap import build_app
from recon.config import load_settings
from recon.models import RETURN_DETAILS_FAILING, RETURN_DETAILS_UNREAD, Quarantined
from recon.service import run_nightly
from tests.fakes import EPOCH, make_return

ROOT = Path(__file__).resolve().parents[2]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config" / "recon.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("setting", "asked"), [("", 3), ("details_reask_stop_after = 2\n", 2)])
def test_details_reask_stop_after_is_how_many_failures_in_a_row_end_the_nights_re_asks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: str, asked: int
) -> None:
    """Five returns due to be asked again, Loop unreachable (connection refused): the night
    stops asking after ``details_reask_stop_after`` failures in a row (3 by default), each
    one an entry saying Loop failed to answer; the others are not asked at all."""
    monkeypatch.setenv("RECON_SHOPIFY_TOKEN", "shpat_test")
    monkeypatch.setenv("RECON_LOOP_API_KEY", "loop-test")
    text = (
        f'[store]\nurl = "sqlite:///{tmp_path / "recon.db"}"\n'
        f'[loop]\nbase_url = "http://127.0.0.1:9/api"\n{setting}'  # discard port: refused
        '[shop]\nbase_url = "http://127.0.0.1:9"\n'
    )
    settings = load_settings(_write(tmp_path, text))
    due = [make_return(i, EPOCH).model_copy(update={"refunds": ()}) for i in range(1, 6)]
    with build_app(settings) as app:
        items = list(app.loop.iter_details(due))
    entries = [i for i in items if isinstance(i, Quarantined)]
    assert [e.record_id for e in entries] == [r.id for r in due[:asked]]
    assert all(e.reason.startswith(RETURN_DETAILS_FAILING) for e in entries)


def test_details_reask_per_night_is_how_many_returns_the_nightly_asks_again(
    tmp_path: Path,
) -> None:
    """``[loop] details_reask_per_night = 2``. The sandbox's first night mirrors its returns;
    five closed refunded ones, last changed over four days before, are then left with their
    refund link unknown (their details unread: an open entry each, the mirror without the
    link). The next night the look-back does not list them, so they are asked again by id:
    two of them (their details answer, the link is read, the entries resolved), the other
    three wait for a later night, their writes still held."""
    settings = load_settings(ROOT / "config" / "recon.toml")
    settings.sandbox.enabled = True
    settings.sandbox.seed = 23
    settings.sandbox.returns = 40
    settings.sandbox.faults.loop_omit_refund_object = True
    settings.loop.details_reask_per_night = 2
    settings.store.url = f"sqlite:///{tmp_path / 'recon.db'}"
    settings.reports.dir = tmp_path / "reports"
    settings.delivery.outbox_dir = tmp_path / "outbox"
    with build_app(settings) as app:
        run_nightly(app)
        old = app.clock.now() - timedelta(days=4)
        linked = sorted(
            (
                r
                for r in app.store.load_snapshot().returns
                if r.state == "closed"
                and r.updated_at <= old
                and any(f.provider_refund_id for f in r.refunds)
            ),
            key=lambda r: r.id,
        )[:5]
        assert len(linked) == 5
        unlinked = [
            r.model_copy(update={"refunds": (), "raw": {**r.raw, "refunds": []}}) for r in linked
        ]
        app.store.upsert_returns(unlinked)
        app.store.add_quarantined(
            [
                Quarantined(
                    source="loop",
                    kind="return",
                    record_id=r.id,
                    field="refunds",
                    reason=f"{RETURN_DETAILS_UNREAD}Loop's Get Return Details answered HTTP 404",
                )
                for r in unlinked
            ],
            run_id=None,
        )
        app.clock.advance(timedelta(days=1))
        run_nightly(app)
        still = {e.entry.record_id for e in app.store.quarantine_entries()}
        mirrored = {r.id: r for r in app.store.load_snapshot().returns}
    answered = [r.id for r in linked if r.id not in still]
    assert len(answered) == 2
    for r in linked:
        assert (r.id in answered) == (mirrored[r.id].refunds == r.refunds)
