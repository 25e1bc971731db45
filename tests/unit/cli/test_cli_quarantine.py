"""``run_recon.py quarantine``: entries without a record id are resolved by hand, with a note."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from recon.clock import VirtualClock
from recon.models import Quarantined
from recon.sources.shopify_unread import NOT_VISIBLE, not_visible
from recon.store.sql import SqlStore
from tests.fakes import EPOCH
from tests.unit.cli.test_cli import recon


def _seed(config: Path) -> tuple[int, int]:
    """An item of Loop's returns list that was not an object, and refund 222 with a bad date."""
    store = SqlStore(f"sqlite:///{config.parent.parent / 'var' / 'recon.db'}")
    garbage = Quarantined(
        source="loop",
        kind="return",
        record_id=None,
        field="$",
        reason="expected an object, got str",
        raw={"value": "'oops'"},
    )
    broken = Quarantined(
        source="shopify", kind="refund", record_id="222", field="processedAt", reason="bad"
    )
    store.add_quarantined([garbage, broken], "run-1")
    idless, refund = store.quarantine_entries()
    store.close()
    return idless.entry_id, refund.entry_id


def _line(output: str, text: str) -> str:
    (line,) = [x for x in output.splitlines() if text in x]
    return line


def test_an_entry_without_a_record_id_leaves_the_listing_once_resolved_by_hand(
    config: Path,
) -> None:
    """It never resolved: no later read can name it. Someone checks its payload and resolves
    it with a note; it leaves the listing and ``--all`` shows who resolved it and why."""
    idless, _ = _seed(config)
    listing = recon("quarantine", "--config", str(config))
    assert listing.returncode == 0, listing.stderr
    assert str(idless) in _line(listing.stdout, "expected an object")

    done = recon("quarantine", "resolve", str(idless), "--note", "test webhook", "-c", str(config))
    assert done.returncode == 0, done.stderr
    assert "resolved" in done.stdout and str(idless) in done.stdout

    after = recon("quarantine", "--config", str(config))
    assert "expected an object" not in after.stdout and "222" in after.stdout
    everything = recon("quarantine", "--all", "--config", str(config))
    line = _line(everything.stdout, "expected an object")
    assert "resolved" in line and "cli:" in line and "test webhook" in line


def test_an_entry_naming_a_record_or_no_entry_is_refused_with_exit_2(config: Path) -> None:
    """Refund 222's entry holds its order's writes until a sync reads it cleanly: no one can
    wave it through by hand. A mistyped entry id is named."""
    _, refund = _seed(config)
    named = recon("quarantine", "resolve", str(refund), "--note", "ok", "-c", str(config))
    assert named.returncode == 2
    said = " ".join(named.stderr.split())
    assert "refund 222" in said and "reads that record cleanly" in said
    unknown = recon("quarantine", "resolve", "999", "--note", "ok", "-c", str(config))
    assert unknown.returncode == 2 and "999" in unknown.stderr
    still = recon("quarantine", "--config", str(config))
    assert "222" in still.stdout and "expected an object" in still.stdout


def test_config_given_before_resolve_is_the_store_resolved_in(tmp_path: Path) -> None:
    """An agency runs recon for two shops from shop B's directory (its config/recon.toml is the
    default there). ``quarantine --config A resolve 1`` resolves shop A's entry 1, as the
    listing ``quarantine --config A`` showed it, and leaves shop B's entry 1 alone."""
    shops = {}
    for name in ("a", "b"):
        path = tmp_path / name / "config" / "recon.toml"
        path.parent.mkdir(parents=True)
        path.write_text('[store]\nurl = "sqlite:///var/recon.db"\n', encoding="utf-8")
        assert _seed(path)[0] == 1
        shops[name] = path
    done = recon(
        "quarantine", "--config", str(shops["a"]), "resolve", "1", "--note", "test webhook",
        cwd=tmp_path / "b",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    a = recon("quarantine", "--config", str(shops["a"]))
    b = recon("quarantine", "--config", str(shops["b"]))
    assert "expected an object" not in a.stdout and "expected an object" in b.stdout


def test_an_entry_id_too_large_for_the_table_is_refused_with_exit_2(config: Path) -> None:
    """A mistyped id (a record id pasted for the entry id) names no entry: exit 2, no traceback."""
    _seed(config)
    result = recon(
        "quarantine", "resolve", "5400000000165999999999", "--note", "ok", "-c", str(config)
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "5400000000165999999999" in result.stderr


def test_an_order_answered_null_on_three_rechecks_is_one_row_seen_three_times(
    config: Path,
) -> None:
    """Order 5001 answered null on days 0, 30 and 60 (its rechecks): the listing shows one
    entry, 3 times, last seen on day 60; ``--all`` the same, once."""
    clock = VirtualClock(EPOCH)
    store = SqlStore(f"sqlite:///{config.parent.parent / 'var' / 'recon.db'}", clock=clock)
    gone = not_visible("order", "gid://shopify/Order/5001", NOT_VISIBLE)
    for run in ("r1", "r2", "r3"):
        store.add_quarantined([gone], run)
        last = clock.now()
        clock.advance(timedelta(days=30))
    store.close()
    for args in ((), ("--all",)):
        listing = recon("quarantine", *args, "--config", str(config))
        assert listing.returncode == 0, listing.stderr
        (line,) = [x for x in listing.stdout.splitlines() if "5001" in x]
        cells = [c.strip() for c in line.split("│")]
        assert "3" in cells and last.strftime("%Y-%m-%d") in line
        assert "(3 times in all)" in " ".join(listing.stdout.split())


def test_show_prints_an_entrys_payload_to_check_before_resolving_it(config: Path) -> None:
    """The README's procedure for an entry without a record id: check its payload (``raw``)
    against the API, then resolve it. No command showed the payload (the listing cuts the
    reason and leaves the payload out), so it could only be read in the database."""
    import json

    idless, refund = _seed(config)
    shown = recon("quarantine", "show", str(idless), str(refund), "--config", str(config))
    assert shown.returncode == 0, shown.stderr
    head = _line(shown.stdout, f"entry {idless}:")
    assert "loop return (no record id)" in head and "field $" in head and "open" in head
    assert "reason: expected an object, got str" in shown.stdout
    start = shown.stdout.index("{", shown.stdout.index("reason: expected"))
    payload, _ = json.JSONDecoder().raw_decode(shown.stdout[start:])
    assert payload == {"value": "'oops'"}
    assert f"entry {refund}: shopify refund 222, field processedAt" in shown.stdout

    unknown = recon("quarantine", "show", "999999", "--config", str(config))
    assert unknown.returncode == 2
    assert "no entry 999999" in unknown.stderr and not unknown.stdout.strip()
