"""Money findings: missing, mismatched, duplicate, failed, pending and unlinked refunds."""

from __future__ import annotations

import numpy as np
import pandas as pd

from recon.engine import codes as codes_mod
from recon.engine import keys
from recon.engine.classify_common import return_rows, rows
from recon.engine.codes import Codes
from recon.engine.link import LISTED_DETAILS
from recon.engine.link_heuristic import BUCKETS, basis_amounts
from recon.models import Category

CLOSED_OUT = ("cancelled", "expired")
_RETURN_NAMES = {"currency": "return_currency", "state": "return_state"}
_MONEY_FACTS = [
    "refund_id",
    "order_id",
    "currency",
    "shop_currency",
    "pending_old",
    "bounced",
    *(f"{bucket}{suffix}" for bucket in BUCKETS for suffix in ("_minor", "_shop_minor")),
]


def linked_money(
    links: pd.DataFrame, facts: pd.DataFrame, returns: pd.DataFrame, codes: Codes
) -> pd.DataFrame:
    """One row per link with the refund's money in the return's currency (``basis_*``)."""
    fact_at = codes_mod.unique_rows(
        links["refund_code"].to_numpy(), facts["refund_code"].to_numpy(), codes.size("refund")
    )
    ret_at = codes_mod.unique_rows(
        links["rma_code"].to_numpy(), codes.of("returns", "rma"), codes.size("rma")
    )
    if fact_at is None or ret_at is None:  # a repeated or missing key: the joins
        return _joined_money(links, facts, returns, codes)
    # Lookups by code, and only the columns the money rules read (issues H10, H18).
    data = {c: links[c].to_numpy() for c in ("refund_id", "rma", "rma_code")}
    data.update({c: facts[c].to_numpy()[fact_at] for c in _MONEY_FACTS[1:6]})
    data["return_currency"] = returns["currency"].to_numpy()[ret_at]
    shop = data["return_currency"] == data["shop_currency"]
    pres = ~shop & (data["return_currency"] == data["currency"])
    basis = keys.constant(len(shop), "mismatch")  # one str object shared by all rows
    basis[pres] = "presentment"
    basis[shop] = "shop"
    data["basis"] = basis
    for bucket in BUCKETS:
        in_shop = facts[f"{bucket}_shop_minor"].to_numpy()[fact_at]
        presentment = facts[f"{bucket}_minor"].to_numpy()[fact_at]
        data[f"basis_{bucket}"] = np.where(shop, in_shop, np.where(pres, presentment, 0))
        data[f"has_{bucket}"] = (in_shop > 0) | (presentment > 0)
        data[f"{bucket}_shop_minor"] = in_shop
    return pd.DataFrame(data, copy=False)


def _joined_money(
    links: pd.DataFrame, facts: pd.DataFrame, returns: pd.DataFrame, codes: Codes
) -> pd.DataFrame:
    """``linked_money`` through left joins (a refund or RMA repeats, or an id is missing)."""
    frame = keys.left_join(links, facts[_MONEY_FACTS], "refund_id")
    ret = returns.copy(deep=False)  # the same columns under the names the money rules read
    ret.columns = pd.Index([_RETURN_NAMES.get(c, c) for c in returns.columns])
    frame = keys.left_join(
        frame, ret[["rma", "return_currency", "refund_minor", "return_state"]], "rma"
    )
    frame = basis_amounts(frame, frame["return_currency"])
    frame["has_covered"] = (frame["covered_minor"] > 0) | (frame["covered_shop_minor"] > 0)
    frame["has_failed"] = (frame["failed_minor"] > 0) | (frame["failed_shop_minor"] > 0)
    return frame


def per_return(money: pd.DataFrame, returns: pd.DataFrame, codes: Codes) -> pd.DataFrame:
    """Returns with their linked totals: total (basis), n_covered, any_failed, any_mismatch."""
    # Sums per RMA code (issues H10, H18); rows of an RMA that is not a return are dropped, as
    # the left join onto returns dropped them. A return with no RMA gets no link's sums.
    at, size = money["rma_code"].to_numpy(), codes.size("rma")
    row = codes.of("returns", "rma")
    counted = np.bincount(at[at >= 0], minlength=size).astype(np.int64)
    return keys.with_columns(
        returns,
        total=keys.take(keys.sum_at(at, money["basis_covered"], size), row, 0),
        n_covered=keys.take(keys.sum_at(at, money["has_covered"], size), row, 0),
        any_failed=keys.take(keys.any_at(at, money["has_failed"], size), row, False),
        any_mismatch=keys.take(
            keys.any_at(at, keys.eq(money["basis"], "mismatch"), size), row, False
        ),
        n_links=keys.take(counted, row, 0),
    )


def classify_returns(
    agg: pd.DataFrame, tol: pd.Series, disputed: frozenset[str] = frozenset()
) -> list[pd.DataFrame]:
    """RMA-scoped money findings (findings.md rows MISSING_REFUND … CURRENCY_MISMATCH).

    ``disputed``: RMAs a note names among several (AMBIGUOUS_RMA): their refund may be that one,
    so no MISSING_REFUND asks for another until someone decides.
    """
    state = keys.text(agg["state"])
    refund = agg["refund_minor"]
    amounts_run = ~agg["any_mismatch"]  # "if neither, ... no amount rule runs for it"
    missing = (
        keys.eq_series(state, "closed")
        & (refund > 0)
        & (agg["n_covered"] == 0)
        & ~agg["any_failed"]
    )
    if disputed:
        missing &= ~agg["rma"].isin(disputed)
    # Not for a cancelled/expired return: REFUND_ON_CANCELLED_RETURN prices every refunded
    # dollar of it, and a duplicate beside it counted the second refund twice.
    duplicate = (
        amounts_run
        & (agg["n_covered"] >= 2)
        & (agg["total"] > refund + tol)
        & ~state.isin(CLOSED_OUT)
    )
    mismatch = (
        amounts_run
        & (agg["total"] > 0)
        & ((agg["total"] - refund).abs() > tol)
        & ~duplicate
        & ~state.isin(CLOSED_OUT)
    )
    cancelled = amounts_run & state.isin(CLOSED_OUT) & (agg["total"] > 0)
    specs = [
        (
            Category.MISSING_REFUND,
            missing,
            refund,
            "closed return with a refund outcome has no refund",
        ),
        (
            Category.DUPLICATE_REFUND,
            duplicate,
            agg["total"] - refund,
            "refunds exceed Loop's refund",
        ),
        (
            Category.AMOUNT_MISMATCH,
            mismatch,
            (agg["total"] - refund).abs(),
            _mismatch_detail,
        ),
        (
            Category.REFUND_ON_CANCELLED_RETURN,
            cancelled,
            agg["total"],
            "refund on a closed-out return",
        ),
        (
            Category.CURRENCY_MISMATCH,
            agg["any_mismatch"],
            refund,
            "refund currencies differ from the return's currency",
        ),
    ]
    out = []
    for category, mask, amount, detail in specs:
        hit = agg[mask]
        text = detail(hit) if callable(detail) else detail
        out.append(return_rows(category, hit, amount_minor=amount[mask], detail=text))
    return out


def _mismatch_detail(hit: pd.DataFrame) -> pd.Series:
    """AMOUNT_MISMATCH's detail says which way the total differs: an acknowledged over-refund
    that turns short (a part bounced) keeps its amount at risk but says something new, so it
    opens again (lifecycle.py)."""
    over = (hit["total"] > hit["refund_minor"]).to_numpy()
    text = np.where(
        over, "refunded total exceeds Loop's refund", "refunded total falls short of Loop's refund"
    )
    return pd.Series(text, index=hit.index, dtype=object)


def classify_linked_refunds(
    money: pd.DataFrame,
    agg: pd.DataFrame,
    tol: pd.Series,
    codes: Codes,
    facts: pd.DataFrame,
    *,
    shortfall_reported: bool = True,
) -> list[pd.DataFrame]:
    """REFUND_FAILED and REFUND_PENDING on linked refunds (amounts in the basis currency).

    When the currencies mismatch there is no basis; these then use shop money (a documented choice:
    the findings still need an amount finance can read). A failed refund of a return that other
    refunds paid in full (``agg`` per return, ``tol`` its tolerance) is no REFUND_FAILED: the
    customer has the money, and "retry the refund" would pay twice. Nor is a failed refund of a
    cancelled or expired return: nothing is owed, and a retry would pay for a cancelled return.
    A return's failed refunds together put at risk no more than it still owes (``_owed_shares``:
    a declined retry of a declined refund is the same money); ``facts`` gives their times.
    ``shortfall_reported`` is False when AMOUNT_MISMATCH is muted: a partly paid return's
    REFUND_FAILED then carries its shortfall, which no reported finding would price.
    """
    ok = ~keys.eq_series(money["basis"], "mismatch")
    currency = money["return_currency"].where(ok, money["shop_currency"])
    failed_amt = money["basis_failed"].where(ok, money["failed_shop_minor"])
    pending_amt = money["basis_pending"].where(ok, money["pending_shop_minor"])
    owed_nothing_rows = (
        (~agg["any_mismatch"] & (agg["total"] >= agg["refund_minor"] - tol))
        | agg["state"].isin(CLOSED_OUT)  # nothing is owed on a cancelled or expired return
    ).to_numpy()
    owed_nothing = np.zeros(codes.size("rma") + 1, dtype=bool)
    owed_nothing[codes.of("returns", "rma")[owed_nothing_rows]] = True
    owed_nothing[-1] = False  # code -1: no RMA
    failed = (
        money["has_failed"] & ~money["has_covered"] & ~owed_nothing[money["rma_code"].to_numpy()]
    )
    pending = money["pending_old"].astype(bool)
    # Details only for the few failed rows: a 1M-row string column costs most of a second.
    bounced = money.loc[failed, "bounced"].fillna(False).astype(bool)
    failed_detail = bounced.map(
        {
            True: "the refund went through, then bounced (REFUND_FAILURE): the money is back "
            "with the shop",
            False: "refund transactions failed, none went through",
        }
    )
    failed_amt, failed_detail = _owed_shares(
        money[failed], failed_amt, failed_detail, ok, agg, codes, facts, shortfall_reported
    )
    out = []
    for category, mask, amount, detail in (
        (Category.REFUND_FAILED, failed, failed_amt, failed_detail),
        (Category.REFUND_PENDING, pending, pending_amt, "refund transaction pending too long"),
    ):
        hit = money[mask]
        if hit.empty:
            continue  # concat_rows leaves empty parts out
        out.append(
            rows(
                category,
                hit,
                scope="refund=" + hit["refund_id"].astype(str),
                rma=hit["rma"],
                order_id=hit["order_id"],
                refund_ids=[(r,) for r in hit["refund_id"]],
                amount_minor=amount[mask],
                currency=currency[mask],
                detail=detail,
            )
        )
    return out


# Appended to a REFUND_FAILED priced below its failed money: why (docs/findings.md).
_SHARED = "; at risk: what the return still owes, once across its failed refunds (latest first)"
_PARTLY_PAID = "; the return is partly paid: its AMOUNT_MISMATCH prices what it still owes"


def _owed_shares(
    hit: pd.DataFrame,
    amount: pd.Series,
    detail: pd.Series,
    ok: pd.Series,
    agg: pd.DataFrame,
    codes: Codes,
    facts: pd.DataFrame,
    shortfall_reported: bool,
) -> tuple[pd.Series, pd.Series]:
    """REFUND_FAILED amounts capped so a return's failed refunds share what it still owes.

    A declined refund and its declined retry (or a refund bigger than the return) are one debt:
    pricing each at its failed money put 40.00 at risk for 20.00 owed. What the return still
    owes (Loop's refund less the money that went through, in the basis currency) goes to its
    latest failed refund first (the attempt CX acts on; by ``processedAt``, then refund id),
    each taking at most its failed money; earlier ones get the rest, often 0. A return some
    money went through for owes its rest on its AMOUNT_MISMATCH (total > 0 and short: the
    same break), so its failed refunds are priced 0 beside it, not a second time (unless
    AMOUNT_MISMATCH is muted: ``shortfall_reported`` False, they share the rest). A return
    with no basis (currency mismatch: no amount rule runs for it) keeps its amounts. ``hit``
    is the few REFUND_FAILED rows: the work is on them only.
    """
    priced = hit.index[ok[hit.index].to_numpy() & (hit["rma_code"].to_numpy() >= 0)]
    if not len(priced):
        return amount, detail
    owed = np.zeros(codes.size("rma") + 1, dtype=np.int64)  # [-1]: no return
    total = agg["total"].to_numpy(dtype=np.int64)
    partly = np.zeros(codes.size("rma") + 1, dtype=bool)
    partly[codes.of("returns", "rma")] = (total > 0) & shortfall_reported
    partly[-1] = False
    owed[codes.of("returns", "rma")] = np.where(
        partly[codes.of("returns", "rma")],
        0,
        np.maximum(agg["refund_minor"].to_numpy(dtype=np.int64) - total, 0),
    )
    ids = hit.loc[priced, "refund_id"].astype(str)
    # Each refund's time by code: no 1M-row index is built for these few rows.
    first = codes_mod.first_position(facts["refund_code"].to_numpy(), codes.size("refund"))
    at = keys.take(first, codes.lookup("refund", hit.loc[priced, "refund_id"]), -1)
    when = keys.take(facts["processed_at"].to_numpy(), at, None)
    order = pd.DataFrame(
        {
            "code": hit.loc[priced, "rma_code"].to_numpy(dtype=np.int64),
            "at": pd.to_datetime(when, utc=True).to_numpy(),
            "width": ids.str.len().to_numpy(),
            "id": ids.to_numpy(),
            "amount": amount[priced].to_numpy(dtype=np.int64),
        },
        index=priced,
    ).sort_values(
        ["code", "at", "width", "id"], ascending=[True, False, False, False], na_position="last"
    )
    before = order.groupby("code", sort=False)["amount"].cumsum() - order["amount"]
    cost = order["amount"].to_numpy()
    share = np.clip(owed[order["code"].to_numpy()] - before.to_numpy(), 0, cost)
    amount, detail = amount.copy(), detail.astype(object).copy()
    amount[order.index] = share
    aside = partly[order["code"].to_numpy()]
    less = order.index[(share < cost) & ~aside]
    detail[less] = detail[less] + _SHARED
    detail[order.index[aside]] = detail[order.index[aside]] + _PARTLY_PAID
    return amount, detail


def classify_unlinked(
    facts: pd.DataFrame,
    links: pd.DataFrame,
    unknown: pd.DataFrame,
    returns: pd.DataFrame,
    restocking: np.ndarray,
) -> list[pd.DataFrame]:
    """UNKNOWN_RMA, AMBIGUOUS_RMA and UNMATCHED_REFUND (amounts in shop money).

    ``restocking``: per refund code, whether the refund restocked an item a Loop return on its
    order has (``_restocking`` in ``recon.engine``). A refund with no RMA that moved no money
    but put such units back (a restock-only refund done by hand) is an UNMATCHED_REFUND too:
    its units may be a return's, which recon must not restock again.
    """
    named = facts[keys.member(facts["refund_id"], unknown["refund_id"])]  # few rows to join
    unk = unknown.merge(named.drop(columns=["rmas"]), on="refund_id")
    ambiguous = facts[facts["n_rmas"] >= 2]
    # The cheap masks first: membership is then tested on the few candidate rows only.
    unmatched = facts[facts["n_rmas"].to_numpy() == 0]
    code = unmatched["refund_code"].to_numpy()
    restocked = np.zeros(len(code), dtype=bool)
    restocked[code >= 0] = restocking[code[code >= 0]]
    moved = (unmatched["covered_minor"].to_numpy() > 0) | (
        unmatched["covered_shop_minor"].to_numpy() > 0
    )
    unmatched = unmatched[moved | restocked]
    unmatched = unmatched[
        ~keys.member(unmatched["refund_id"], links["refund_id"])
        & keys.member(unmatched["order_id"], returns["order_id"])
    ]
    out = []
    for category, hit, rma, detail in (
        (Category.UNKNOWN_RMA, unk, unk["rma"], "the note names an RMA Loop does not have"),
        (Category.AMBIGUOUS_RMA, ambiguous, None, "the note names several RMAs"),
        (Category.UNMATCHED_REFUND, unmatched, None, "refund on a returned order with no RMA"),
    ):
        if hit.empty:
            continue  # concat_rows leaves empty parts out
        detail_col: str | pd.Series = detail
        if category is Category.UNKNOWN_RMA and hit["rma_elsewhere"].any():
            detail_col = _elsewhere_detail(hit, returns, detail)
        if category is Category.AMBIGUOUS_RMA:
            source = hit["listed_by_loop"].map(LISTED_DETAILS).fillna(detail)
            detail_col = source + ": " + hit["rmas"].map(", ".join).astype(str)
        out.append(
            rows(
                category,
                hit,
                scope="refund=" + hit["refund_id"].astype(str),
                rma=rma,
                order_id=hit["order_id"],
                refund_ids=[(r,) for r in hit["refund_id"]],
                amount_minor=hit["covered_shop_minor"],
                currency=hit["shop_currency"],
                detail=detail_col,
            )
        )
    return out


def _elsewhere_detail(unk: pd.DataFrame, returns: pd.DataFrame, detail: str) -> pd.Series:
    """UNKNOWN_RMA's detail; a note naming a return of another order says which order."""
    names = returns.drop_duplicates("rma").set_index("rma")["order_name"]
    elsewhere = unk["rma_elsewhere"].to_numpy(dtype=bool)
    text = pd.Series(detail, index=unk.index, dtype=object)
    rma = unk.loc[elsewhere, "rma"].astype(str)
    text[elsewhere] = (
        "the note names a return of another order: "
        + rma
        + " on "
        + unk.loc[elsewhere, "rma"].map(names).astype(str)
    )
    return text
