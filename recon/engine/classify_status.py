"""Status findings: STATUS_DRIFT, STALE_RETURN and MISSING_STORE_CREDIT."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from recon.engine import keys
from recon.engine.classify_common import no_rows, return_rows, rows
from recon.engine.codes import Codes
from recon.engine.frames import Frames
from recon.engine.rma import ascii_digits
from recon.models import Category

FINAL = ("closed", "cancelled", "expired")
OPEN_ON_SHOPIFY = ("RETURN_REQUESTED", "IN_PROGRESS")


def classify_status_drift(frames: Frames, codes: Codes) -> pd.DataFrame:
    """STATUS_DRIFT per order: Loop has closed out every return, Shopify still shows one open.

    The finding's RMA is the highest closed RMA on the order, compared as a number (by length,
    then digits, so 20-digit ids do not overflow); its amount is 0 in that return's currency.
    """
    ret = frames.returns
    state = keys.text(ret["state"])
    # Per order on integer codes (issue H10): all returns final and at least one closed.
    order, order_ids = codes.of("returns", "order_id"), codes.vocab["order"]
    known = order >= 0  # NaN order ids form no group, as in a groupby
    not_final = np.zeros(len(order_ids), dtype=bool)
    not_final[order[known & ~state.isin(FINAL).to_numpy()]] = True
    any_closed = np.zeros(len(order_ids), dtype=bool)
    any_closed[order[known & keys.eq(state, "closed")]] = True
    drifting = order_ids[~not_final & any_closed].to_numpy()
    orders = frames.orders[
        keys.member(frames.orders["order_id"], drifting)
        & frames.orders["return_status"].isin(OPEN_ON_SHOPIFY)
    ]
    if orders.empty:
        return no_rows()
    closed = ret[keys.eq(state, "closed") & keys.member(ret["order_id"], orders["order_id"])]
    closed = closed.assign(rma_len=closed["rma"].str.len()).sort_values(
        ["order_id", "rma_len", "rma"]
    )
    hit = closed.drop_duplicates("order_id", keep="last").merge(
        orders[["order_id", "order_name", "return_status"]], on="order_id", suffixes=("_loop", "")
    )
    return rows(
        Category.STATUS_DRIFT,
        hit,
        scope="order=" + hit["order_id"].astype(str),
        rma=hit["rma"],
        order_id=hit["order_id"],
        order_name=hit["order_name"],
        amount_minor=0,
        currency=hit["currency"],
        detail="Loop closed every return; Shopify shows " + hit["return_status"],
    )


def classify_stale(frames: Frames, as_of: datetime, stale_days: int) -> pd.DataFrame:
    """STALE_RETURN: open or in review, created more than ``stale_days`` before ``as_of``."""
    ret = frames.returns
    mask = ret["state"].isin(("open", "review")) & (
        ret["created_at"] < as_of - timedelta(days=stale_days)
    )
    hit = ret[mask]
    return return_rows(
        Category.STALE_RETURN,
        hit,
        amount_minor=hit["total_minor"],
        detail="return open for more than " + str(stale_days) + " days",
    )


def classify_store_credit(frames: Frames, tol: pd.Series, codes: Codes) -> list[pd.DataFrame]:
    """MISSING_STORE_CREDIT: no gift card note names the RMA as a whole number, or the cards that
    do, in the return's currency, add up to less than ``R.gift_card`` (beyond the tolerance);
    and AMBIGUOUS_RMA for a card whose note names several returns.

    "Whole number" = a maximal run of digits in the note equals the RMA (so 1234 is not found in
    a note saying 12345; digits in any script read as ASCII, as in refund notes). A card
    naming an RMA twice counts once; cards in another currency
    count as issued but cannot be compared. A card naming two or more Loop returns counted in
    full for each (a 20.00 card "RMA 12345, 12346" paid both): it counts for none and is
    AMBIGUOUS_RMA (``gift_card=<id>``, its value), as a refund note naming several RMAs is,
    and the returns it names raise no MISSING_STORE_CREDIT for want of a card until someone
    decides (a card of their own that falls short still does).
    """
    cards = frames.gift_cards
    numbers = cards["note"].fillna("").astype(str).map(ascii_digits).str.findall(r"\d+")
    named = pd.DataFrame(
        {
            "card": np.repeat(np.arange(len(cards)), numbers.map(len).to_numpy(dtype=np.int64)),
            "rma": np.array([n for found in numbers.tolist() for n in found], dtype=object),
        }
    ).drop_duplicates()
    ret = frames.returns
    named, ambiguous = _shared_cards(named, cards, codes)
    at = named["card"].to_numpy()
    named = named.assign(
        currency=cards["currency"].to_numpy(dtype=object)[at],
        value=cards["initial_value_minor"].to_numpy(dtype=np.int64)[at],
    )
    owed = keys.eq_series(ret["state"], "closed") & (ret["gift_card_minor"] > 0)
    due = ret[owed.to_numpy()]
    if due.empty:  # no store credit owed: no card to look for
        return [no_rows(), _ambiguous_cards(ambiguous, cards)]
    same = due[["rma", "currency"]].merge(named, on=["rma", "currency"], how="left")
    issued = same.groupby(["rma", "currency"], sort=False)["value"].sum(min_count=1)
    key = pd.MultiIndex.from_arrays([due["rma"], due["currency"]])
    issued_minor = issued.reindex(key).fillna(0).astype(np.int64).to_numpy()
    any_card = due["rma"].astype(str).isin(set(named["rma"])).to_numpy()
    disputed = due["rma"].astype(str).isin(set(ambiguous["rma"])).to_numpy()
    short = due["gift_card_minor"].to_numpy(dtype=np.int64) - issued_minor
    in_currency = issued_minor > 0
    mask = (~any_card & ~disputed) | (in_currency & (short > tol[owed.to_numpy()].to_numpy()))
    hit = due[mask]
    detail = np.where(
        any_card[mask],
        "gift cards naming the RMA add up to less than the store credit",
        "store-credit outcome with no gift card naming the RMA",
    )
    missing = return_rows(
        Category.MISSING_STORE_CREDIT,
        hit,
        amount_minor=np.where(any_card[mask], short[mask], hit["gift_card_minor"].to_numpy()),
        detail=detail,
    )
    return [missing, _ambiguous_cards(ambiguous, cards)]


def _shared_cards(
    named: pd.DataFrame, cards: pd.DataFrame, codes: Codes
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``named`` (card position, number) split: the numbers of cards naming one Loop return at
    most, and the (card, rma) pairs of cards naming two or more (the few AMBIGUOUS_RMA ones).
    Numbers are looked up as RMA codes: the returns are not hashed again."""
    present = np.zeros(codes.size("rma") + 1, dtype=bool)
    present[codes.of("returns", "rma")] = True
    present[-1] = False  # code -1: no such RMA
    is_return = present[codes.lookup("rma", named["rma"].to_numpy(dtype=object))]
    returns_named = named[is_return]
    per_card = np.bincount(returns_named["card"].to_numpy(dtype=np.int64), minlength=len(cards))
    shared = per_card[named["card"].to_numpy(dtype=np.int64)] >= 2
    return named[~shared], named[shared & is_return]


def _ambiguous_cards(ambiguous: pd.DataFrame, cards: pd.DataFrame) -> pd.DataFrame:
    """AMBIGUOUS_RMA rows of gift cards whose note names several returns (few rows)."""
    if ambiguous.empty:
        return no_rows()
    groups: dict[int, list[str]] = {}
    for card, rma in zip(ambiguous["card"].tolist(), ambiguous["rma"].tolist(), strict=True):
        groups.setdefault(int(card), []).append(str(rma))
    hit = cards.iloc[sorted(groups)]
    rmas = [sorted(groups[c], key=lambda r: (len(r), r)) for c in sorted(groups)]
    return rows(
        Category.AMBIGUOUS_RMA,
        hit,
        scope="gift_card=" + hit["gift_card_id"].astype(str),
        amount_minor=hit["initial_value_minor"],
        currency=hit["currency"],
        detail=pd.Series(
            ["the gift card's note names several RMAs: " + ", ".join(r) for r in rmas],
            index=hit.index,
            dtype=object,
        ),
    )
