"""Review 18: every failed run in the runs table keeps the exit code ``runs`` shows.

docs/commands.md "The runs table": "a failed or interrupted run also keeps its exit code,
``stats.exit_code``", and ``runs`` shows it, blank only "for runs recorded by a version that
did not keep it". A nightly records two rows: its own (``nightly``) and its sync's (``sync``,
``recon.sync.run_sync`` with no run id). Only the first keeps the code: the sync's row of a
night that failed on refused credentials reads ``failed`` with no exit code, so the operator
reading ``runs`` cannot tell a refused key (3) from a crash (1) on it.

Dataset: ``history_shop`` on SQLite and on PostgreSQL; Loop refuses the API key (401).
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from recon.cli_runs import _exit
from recon.errors import AuthError
from recon.store import tables as tbl
from tests.unit.store.history_shop import HistoryShop, day


def test_the_sync_row_of_a_night_refused_its_credentials_keeps_exit_3(shop: HistoryShop) -> None:
    def refused(*args: object, **kwargs: object) -> object:
        raise AuthError("Loop refused the API key (401)")

    shop.loop.iter_returns = refused  # type: ignore[method-assign]
    with pytest.raises(AuthError):
        shop.night(day(10, 21, 2))
    with shop.store.session() as s:
        rows = {r.kind: (r.status, dict(r.stats or {})) for r in s.scalars(select(tbl.RunRow))}
    status, stats = rows["sync"]
    assert status == "failed" and "Loop refused the API key" in str(stats["error"]), stats
    # What `runs` prints in its exit column for that row: the code the night ended with.
    assert _exit(status, stats) == "3", stats
