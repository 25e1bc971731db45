"""A Loop return listed twice in one night as two versions, the first copy's Get Return Details
failing and the second's answering.

Over real HTTP against the sandbox (list items without ``shopify_refund_object``, so each
closed refund return's details are asked), with a SQLite or PostgreSQL mirror. A wrapper
around the Loop emulator lists the victim twice on its page, the second copy a minute newer
(the return changed while the list was being paged), and fails the victim's first details
requests (503 until the first copy's attempts run out); the second copy's details answer.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:  # tests/ is not a package; the helpers are imported by path
    sys.path.insert(0, _ROOT)

from recon.sandbox.faults import Faults  # noqa: E402
from recon.sandbox.loop_render import list_timestamp  # noqa: E402
from recon.sources.http import RetryPolicy  # noqa: E402
from recon.sync import run_sync  # noqa: E402
from tests.integration.sandbox_helpers import (  # noqa: E402
    SandboxRig,
    sandbox_rig,
    sync_settings_for_tests,
)
from tests.integration.test_loop_details_unread import (  # noqa: E402
    SETTINGS,
    _link,
    _open_entries,
    _world,
)

ATTEMPTS = 2  # the rig's retry policy: the first copy's details fail on both attempts


class ListedTwice:
    """ASGI wrapper around the Loop emulator: a list page naming ``victim`` names it twice,
    the second copy a minute newer, or (``newer_first``) the newer copy first; the victim's
    first ``fail`` Get Return Details requests answer 503."""

    def __init__(
        self, app: Any, victim: str, *, fail: int, newer_first: bool = False, twice: bool = True
    ) -> None:
        self.app = app
        self.victim = victim
        self.fail = fail
        self.newer_first = newer_first
        self.twice = twice
        self.asked = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        query = scope.get("query_string", b"").decode().split("&")
        if path.endswith("/warehouse/return/details") and f"return_id={self.victim}" in query:
            self.asked += 1
            if self.asked <= self.fail:
                await _answer(send, 503, b'{"message": "Server busy."}', [])
                return
        if not path.endswith("/warehouse/return/list"):
            await self.app(scope, receive, send)
            return
        sent: list[dict[str, Any]] = []

        async def keep(message: dict[str, Any]) -> None:
            sent.append(message)

        await self.app(scope, receive, keep)
        start = sent[0]
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        if start["status"] == 200 and self.twice:
            body = self._twice(body)
        await _answer(send, start["status"], body, start["headers"])

    def _twice(self, body: bytes) -> bytes:
        page = json.loads(body)
        returns = page.get("returns") if isinstance(page, dict) else None
        if not isinstance(returns, list):
            return body
        for index, item in enumerate(returns):
            if str(item.get("id")) == self.victim:
                was = datetime.fromisoformat(item["updated_at"].replace("Z", "+00:00"))
                newer = {**item, "updated_at": list_timestamp(was + timedelta(minutes=1))}
                copies = [newer, item] if self.newer_first else [item, newer]
                returns[index : index + 1] = copies
                return json.dumps(page).encode()
        return body


async def _answer(send: Any, status: int, body: bytes, headers: list[Any]) -> None:
    kept = [(k, v) for k, v in headers if k.lower() not in (b"content-length", b"content-type")]
    kept += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": kept})
    await send({"type": "http.response.body", "body": body})


@contextlib.contextmanager
def _rig(
    tmp_path: Path, store_url: str, victim: str, world: Any, **listed: Any
) -> Iterator[tuple[SandboxRig, ListedTwice]]:
    """A sandbox rig whose Loop emulator is wrapped in ``ListedTwice`` (``listed``: its
    options), and that wrapper."""
    wrapped: list[ListedTwice] = []

    def wrapper(app: Any) -> Any:
        wrapped.append(ListedTwice(app, victim, **listed))
        return wrapped[-1]

    with sandbox_rig(
        world,
        tmp_path,
        faults=Faults(loop_omit_refund_object=True),
        loop_wrapper=wrapper,
        policy=RetryPolicy(max_attempts=ATTEMPTS, zero_wait=True),
        store_url=store_url,
    ) as rig:
        yield rig, wrapped[0]


def _held(rig: SandboxRig, victim: str) -> bool:
    return ("return", victim) in rig.store.load_snapshot().unreadable


def _night_one(tmp_path: Path, store_url: str, *, newer_first: bool) -> tuple[Any, str, Any]:
    """Night 1 over the wrapped emulator: (the victim's link, its open entries, unreadable)."""
    world, victim = _world()
    with _rig(tmp_path, store_url, victim, world, fail=ATTEMPTS, newer_first=newer_first) as (
        rig,
        listed,
    ):
        run_sync(rig.store, rig.loop, rig.shopify, rig.clock, SETTINGS)
        assert listed.asked == ATTEMPTS + 1  # both copies asked: one failed, one answered
        expected = [
            f.provider_refund_id
            for r in rig.state.world.loop_returns
            if r.id == victim
            for f in r.refunds
        ]
        held = _held(rig, victim)
        return (_link(rig.store, victim), expected), _open_entries(rig.store, victim), held


def test_a_return_whose_newer_copy_read_its_details_is_not_held_for_the_older_copys_failure(
    tmp_path: Path, store_url: str
) -> None:
    """The older copy's details fail, the newer copy's answer and link Loop's refund, and the
    mirror keeps the newer copy. Before, the older copy's entry stayed open all the same: the
    return's refund and restock were held (its writes waited) until the next night's read."""
    (link, expected), entries, held = _night_one(tmp_path, store_url, newer_first=False)
    assert expected and link == expected
    assert entries == []
    assert not held


def test_a_return_whose_newer_copy_failed_its_details_stays_held(
    tmp_path: Path, store_url: str
) -> None:
    """The newer copy is listed first and its details fail; the older copy's answer. The
    mirror keeps the newer copy, whose refund link is unknown (Loop may have refunded since
    the older version): the hold on its writes stays until its details answer."""
    (link, _expected), entries, held = _night_one(tmp_path, store_url, newer_first=True)
    assert link == []
    assert len(entries) == 1 and held


def test_a_link_the_mirror_keeps_for_the_older_copy_does_not_release_the_newer_one(
    tmp_path: Path, store_url: str
) -> None:
    """Night 1 lists the victim once and links Loop's refund. Night 2's look-back lists it
    again unchanged, and a minute newer after it (changed while paged); both copies' details
    fail. The mirror's link is that of the unchanged version: the newer copy, which the mirror
    keeps, has its link unknown, and its writes stay held. Before, the link kept for the older
    copy dropped the newer copy's entry too: the return was stored unlinked and not held, and
    a refund Loop made could be read as missing and paid again."""
    world, victim = _world()
    with _rig(tmp_path, store_url, victim, world, fail=0, twice=False) as (rig, listed):
        run_sync(rig.store, rig.loop, rig.shopify, rig.clock, SETTINGS)
        assert _link(rig.store, victim) and not _held(rig, victim)

        listed.twice, listed.fail, listed.asked = True, 2 * ATTEMPTS, 0
        updated = next(r.updated_at for r in world.loop_returns if r.id == victim)
        hours = int((rig.clock.now() - updated).total_seconds() // 3600) + 48
        rig.clock.advance(timedelta(days=1))
        run_sync(
            rig.store,
            rig.loop,
            rig.shopify,
            rig.clock,
            sync_settings_for_tests(initial_days=400, lookback_hours=hours),
        )
        assert listed.asked == 2 * ATTEMPTS  # each copy asked, and retried
        assert _held(rig, victim)
        assert len(_open_entries(rig.store, victim)) == 1
