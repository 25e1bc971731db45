"""Review 19: an empty ``nodes(ids:)`` list is asked once more, whatever came before it.

``ShopifyTransport._check_body`` marks an empty list for ids asked as an answer that may be a
passing glitch: it is asked once more (``BodyVerdict.last_answer``), and only a second empty
list is read as "none of the ids visible" (their writes held until the recheck). The re-ask
must not depend on what the earlier attempts of the same request were: a THROTTLED answer or
a 5xx before the first empty list is not an empty list, so nothing has been asked again yet.

Dataset: orders 1 and 2, both shown by Shopify; the first attempt is refused (THROTTLED, or
HTTP 503), the second answers ``[]`` (the glitch), the third answers both orders.
"""

from __future__ import annotations

import httpx
import pytest
from sources_scripted import ScriptedTransport, gql, order_node, shopify_client, throttled

from recon.models import OrderRecord, Quarantined
from recon.sync import not_visible_orders


def _paid(number: int) -> dict[str, object]:
    return order_node(number, "2026-01-01T14:02:11Z", status="PAID")


@pytest.mark.parametrize(
    "refused",
    [
        throttled(requested=30, available=0, restore=50),
        httpx.Response(503, json={"errors": "unavailable"}),
    ],
    ids=["throttled", "http-503"],
)
def test_an_empty_list_after_a_refused_attempt_is_still_asked_again(
    refused: httpx.Response,
) -> None:
    """The first ``[]`` came on the second attempt (the first was refused, not answered): it
    was returned at once as the answer, so both orders read as not visible (deleted, or out
    of sight) and their writes were held until the recheck, though asking once more shows
    them. The empty list must be asked once more, as it is when it comes first."""
    transport = ScriptedTransport(
        [refused, gql({"nodes": []}), gql({"nodes": [_paid(1), _paid(2)]})]
    )
    items = list(shopify_client(transport).iter_orders_by_id(["1", "2"]))
    held = [i for i in items if isinstance(i, Quarantined)]
    assert not_visible_orders(held) == []
    assert sorted(i.id for i in items if isinstance(i, OrderRecord)) == ["1", "2"]
    assert len(transport.requests) == 3
