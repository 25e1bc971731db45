"""A connection whose ``pageInfo`` cannot be followed is a partial read, never the whole list.

Shopify answers ``pageInfo { hasNextPage endCursor }`` with every page; a page that says there
is more but gives no cursor (or no ``pageInfo`` at all) cannot be paged further. Taken as the
end of the list, what was not read passes for "not there": the stream's watermark moved past
records nobody read, and an order stood in the mirror with half its lines. Here the sandbox's
answers are corrupted on the wire, and the sync must say which query and which field.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:  # tests/ is not a package; the helpers are imported by path
    sys.path.insert(0, _ROOT)

from recon.errors import SourceError  # noqa: E402
from recon.sandbox.generator import generate_world  # noqa: E402
from recon.sync import all_streams, run_sync  # noqa: E402
from tests.integration.sandbox_helpers import (  # noqa: E402
    mirror_records,
    normalise_generated_world,
    sandbox_rig,
    sync_settings_for_tests,
)

Corrupt = Callable[[dict[str, Any]], bool]  # edits a response body; True when it did


class CorruptQuery:
    """An ASGI wrapper that lets ``corrupt`` edit the JSON answers to one GraphQL query."""

    def __init__(self, app: Any, query: str, corrupt: Corrupt) -> None:
        self.app, self.query, self.corrupt = app, query.encode(), corrupt
        self.corrupted = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        if f"query {self.query.decode()}".encode() not in body:
            await self.app(scope, replay, send)
            return
        held: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                held.update(message)
            else:
                chunks.append(message.get("body", b""))

        await self.app(scope, replay, capture)
        answer = b"".join(chunks)
        if held.get("status") == 200:
            document = json.loads(answer)
            if self.corrupt(document):
                self.corrupted += 1
                answer = json.dumps(document).encode()
        headers = [(k, v) for k, v in held["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(answer)).encode()))
        await send({**held, "headers": headers})
        await send({"type": "http.response.body", "body": answer})


def _world() -> Any:
    world, _truth = generate_world(seed=31, returns=40, future_days=3)
    return normalise_generated_world(world)


def _settings() -> Any:
    return sync_settings_for_tests(initial_days=400)


def no_cursor(document: dict[str, Any]) -> bool:
    """The sweep's first page says there is more, and names no cursor."""
    orders = (document.get("data") or {}).get("orders")
    if not isinstance(orders, dict) or not orders.get("nodes"):
        return False
    orders["pageInfo"] = {"hasNextPage": True, "endCursor": None}
    return True


def no_page_info(document: dict[str, Any]) -> bool:
    orders = (document.get("data") or {}).get("orders")
    if not isinstance(orders, dict) or not orders.get("nodes"):
        return False
    del orders["pageInfo"]
    return True


@pytest.mark.slow
@pytest.mark.parametrize(
    ("corrupt", "field"),
    [(no_cursor, "pageInfo.endCursor"), (no_page_info, "pageInfo")],
)
def test_a_window_that_cannot_be_paged_further_is_not_taken_for_the_whole(
    tmp_path: Path, corrupt: Corrupt, field: str
) -> None:
    """The sweep of refunded orders is cut short: the run stops naming the query and the
    field, keeps nothing half-read and moves no watermark, so the next run reads it again."""
    holder: dict[str, CorruptQuery] = {}

    def wrap(app: Any) -> Any:
        holder["shopify"] = CorruptQuery(app, "OrdersPage", corrupt)
        return holder["shopify"]

    with sandbox_rig(_world(), tmp_path, shopify_wrapper=wrap) as rig:
        with pytest.raises(SourceError) as failed:
            run_sync(rig.store, rig.loop, rig.shopify, rig.clock, _settings())
        assert holder["shopify"].corrupted >= 1
        assert all(rig.store.get_watermark(s) is None for s in all_streams())
        assert not any(mirror_records(rig.store).values())
        message = str(failed.value)
        assert message.startswith("shopify OrdersPage"), message
        assert f"{field} " in message and "financial_status:" in message, message

        holder["shopify"].corrupt = lambda document: False  # Shopify answers whole again
        rig.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
        run_sync(rig.store, rig.loop, rig.shopify, rig.clock, _settings())
        assert mirror_records(rig.store)["orders"]


def lines_without_cursor(document: dict[str, Any]) -> bool:
    """The first order of a ``nodes(ids:)`` answer says it has more lines, and names no cursor."""
    for node in (document.get("data") or {}).get("nodes") or []:
        if isinstance(node, dict) and isinstance(node.get("lineItems"), dict):
            node["lineItems"]["pageInfo"] = {"hasNextPage": True, "endCursor": None}
            return True
    return False


@pytest.mark.slow
def test_an_order_whose_lines_cannot_be_paged_further_is_quarantined_and_the_run_goes_on(
    tmp_path: Path,
) -> None:
    """An inner connection cut short spoils one record, not the run: the order is kept for
    review (its writes held, as for any order read in part), named with the query and the
    field; every other order is stored."""
    holder: dict[str, CorruptQuery] = {}

    def wrap(app: Any) -> Any:
        holder["shopify"] = CorruptQuery(app, "OrdersById", lines_without_cursor)
        return holder["shopify"]

    with sandbox_rig(_world(), tmp_path, shopify_wrapper=wrap) as rig:
        stats = run_sync(rig.store, rig.loop, rig.shopify, rig.clock, _settings())
        quarantined = [q for q in rig.store.list_quarantined() if q.kind == "order"]
        stored = set(mirror_records(rig.store)["orders"])
    assert holder["shopify"].corrupted >= 1
    assert stats.quarantined >= 1 and stored
    entry = next(q for q in quarantined if q.field == "lineItems.pageInfo.endCursor")
    assert entry.record_id not in stored  # not stored as if read whole
    assert "OrderLineItemsPage" in entry.reason and "hasNextPage" in entry.reason


def _once(corrupt: Corrupt) -> Corrupt:
    """``corrupt`` on the first answer it can corrupt, then never again."""
    done: list[bool] = []

    def edit(document: dict[str, Any]) -> bool:
        if done or not corrupt(document):
            return False
        done.append(True)
        return True

    return edit


@pytest.mark.slow
@pytest.mark.parametrize("corrupt", [no_cursor, no_page_info])
def test_a_window_page_without_a_way_on_is_read_on_from_its_last_row(
    tmp_path: Path, corrupt: Corrupt
) -> None:
    """One sweep page says there is more without saying where (Shopify answers whole after
    it): the sweep asks again from that page's last row's time, so the night succeeds and
    the mirror is the one a clean night builds, every refunded order in it."""
    holder: dict[str, CorruptQuery] = {}

    def wrap(app: Any) -> Any:
        holder["shopify"] = CorruptQuery(app, "OrdersPage", _once(corrupt))
        return holder["shopify"]

    with sandbox_rig(_world(), tmp_path / "broken", shopify_wrapper=wrap) as rig:
        run_sync(rig.store, rig.loop, rig.shopify, rig.clock, _settings())
        assert holder["shopify"].corrupted == 1
        broken = mirror_records(rig.store)
    with sandbox_rig(_world(), tmp_path / "clean") as rig:
        run_sync(rig.store, rig.loop, rig.shopify, rig.clock, _settings())
        clean = mirror_records(rig.store)
    assert clean["orders"] and broken == clean
