"""Restock findings: MISSING_RESTOCK and GHOST_INVENTORY, counted in units (line level).

docs/findings.md "Restocks are counted in units": per (RMA, Shopify line item), the units Loop
lists are netted against the restocked ``quantity`` of linked refund lines and the units recon's
action ledger restocked.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from recon.config import WarehouseEvent
from recon.engine import codes as codes_mod
from recon.engine import keys
from recon.engine.classify_common import rows
from recon.engine.codes import Codes
from recon.engine.frames import Frames
from recon.models import Category

CLOSED_OUT = ("cancelled", "expired")


def _units(frames: Frames, event: WarehouseEvent) -> pd.DataFrame:
    """Return units with ``received`` and ``event_done`` (findings.md "Vocabulary")."""
    ret = frames.returns[
        ["rma", "state", "label_status", "was_processed", "currency", "order_id", "order_name"]
    ]
    units = keys.inner_join(frames.return_lines, ret, "rma")
    processed = keys.eq_series(units["state"], "closed") & units["was_processed"]
    received = keys.eq_series(units["label_status"], "delivered") | processed | units["inspected"]
    done = {
        WarehouseEvent.RECEIVED: received,
        WarehouseEvent.PROCESSED: processed,
        WarehouseEvent.INSPECTED: units["inspected"],
    }[event]
    return keys.with_columns(
        units, received=received, event_done=done, pli=units["provider_line_item_id"].fillna("")
    )


def _per_line(units: pd.DataFrame) -> pd.DataFrame:
    """Units → one row per (rma, line item): Σ price times weight (the units at issue, plus
    restocks beyond the units returned), the first unit's columns, the listed units' ids."""
    units = units.assign(
        amount=units["price_minor"].to_numpy(dtype=np.int64) * units["weight"].to_numpy(),
        listed_id=units["line_item_id"].where(units["listed"].to_numpy(dtype=bool)),
    )
    if _one_unit_per_line(units):  # usual: groups are rows, in order (no groupby to set up)
        return pd.DataFrame(
            {
                "rma": units["rma"].to_numpy(),
                "pli": units["pli"].to_numpy(),
                "amount": units["amount"].to_numpy(),
                "sku": units["sku"].to_numpy(),
                "currency": units["currency"].to_numpy(),
                "order_id": units["order_id"].to_numpy(),
                "order_name": units["order_name"].to_numpy(),
                "location_id": units["restock_location_id"].to_numpy(),
                "done": units["done"].to_numpy(),
                "extra": units["extra"].to_numpy(),
                "unit_ids": [_ids([i]) for i in units["listed_id"].tolist()],
            }
        )
    grouped = units.groupby(["rma", "pli"], sort=False)
    out = grouped.agg(
        amount=("amount", "sum"),
        sku=("sku", "first"),
        currency=("currency", "first"),
        order_id=("order_id", "first"),
        order_name=("order_name", "first"),
        location_id=("restock_location_id", "first"),
        done=("done", "first"),
        extra=("extra", "sum"),
    ).reset_index()
    if len(out) == len(units):  # one unit per line item (usual): groups are rows, in order
        out["unit_ids"] = [_ids([i]) for i in units["listed_id"].tolist()]
    else:
        out["unit_ids"] = grouped["listed_id"].agg(_ids).tolist()
    return out


def _one_unit_per_line(units: pd.DataFrame) -> bool:
    """Whether each unit is its own (rma, line item) group: no RMA missing (a groupby drops
    such keys) and no pair twice. Then each group's sum and first value are the unit's own."""
    if units["rma"].hasnans:
        return False
    pairs = keys.pair_codes((units["rma"], units["pli"]))[0]
    return len(pd.unique(pairs)) == len(pairs)


def _ids(values: Any) -> tuple[str, ...]:
    """Loop line item ids of units, sorted (a missing id is left out)."""
    return tuple(sorted(str(v) for v in values if pd.notna(v)))


def classify_restock(
    frames: Frames,
    lines: pd.DataFrame,
    event: WarehouseEvent,
    restocked_by_recon: Mapping[tuple[str, str], Sequence[str]],
    codes: Codes,
    disputed: frozenset[str] = frozenset(),
) -> list[pd.DataFrame]:
    """MISSING_RESTOCK and GHOST_INVENTORY per (RMA, provider line item), counted in units.

    Loop lists one line per returned unit (loop-returns-api.md §10.2), so the units of a line
    item are netted against what was restocked for it: the ``quantity`` of linked refund lines
    with ``restocked``, plus the units recon's action ledger restocked. The ledger names its
    units (Loop line item ids): those are restocked, and ghost stock if not received. A ledger
    entry naming no unit of the line (a row from before units were recorded) and refund lines
    cover the other units whose warehouse event happened first, in unit order (``_net_units``).
    ``disputed`` RMAs (named by a note naming several) raise no MISSING_RESTOCK: that refund's
    lines may be theirs, and its AMBIGUOUS_RMA is decided first.
    """
    if codes_mod.is_unique(codes.of("returns", "rma"), codes.size("rma")):
        missing, ghost = _restock_masks(frames, lines, event, restocked_by_recon, codes)
    else:  # a repeated RMA: the join on returns repeats units, as the merge does
        missing, ghost = _restock_merge(frames, lines, event, restocked_by_recon)
    if disputed:  # a refund naming several RMAs may have restocked these: decided first
        missing = missing[~missing["rma"].astype(str).isin(disputed).to_numpy()]
    out = []
    for category, units, detail in (
        (Category.MISSING_RESTOCK, missing, _missing_detail),
        (Category.GHOST_INVENTORY, ghost, _ghost_detail),
    ):
        if units.empty:
            continue  # concat_rows leaves empty parts out
        hit = _per_line(units)
        out.append(
            rows(
                category,
                hit,
                scope="rma=" + hit["rma"].astype(str) + ",line=" + hit["pli"].astype(str),
                rma=hit["rma"],
                order_id=hit["order_id"],
                order_name=hit["order_name"],
                sku=hit["sku"],
                location_id=hit["location_id"],
                amount_minor=hit["amount"],
                currency=hit["currency"],
                detail=detail(hit),
                unit_ids=hit["unit_ids"],
            )
        )
    return out


def _missing_detail(hit: pd.DataFrame) -> pd.Series:
    """The finding's detail; a line item restocked in part says how many units are missing."""
    short = hit["unit_ids"].map(len).astype(np.int64)
    part = short < hit["done"]
    text = pd.Series("received unit not restocked in Shopify", index=hit.index, dtype=object)
    text[part] = (
        short[part].astype(str)
        + " of "
        + hit.loc[part, "done"].astype(str)
        + " received units not restocked in Shopify"
    )
    return text


def _ghost_detail(hit: pd.DataFrame) -> pd.Series:
    """The finding's detail: restocks on units not received, or beyond the units returned."""
    beyond = hit["extra"].to_numpy() > 0
    text = np.where(
        beyond, "restocked more units than were returned", "restocked but never received"
    )
    return pd.Series(text, index=hit.index, dtype=object)


def _net_units(
    group: np.ndarray,
    restocked: np.ndarray,
    flags: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    unit_ids: np.ndarray,
    prices: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Missing and ghost units, each unit's count of done units in its line item, and restocks
    beyond the units returned (on the line item's first unit, in unit order; else 0).

    Args:
        group: per unit, its (rma, line item) group code (0..n-1).
        restocked: per group, the units restocked for it (refund lines and recon's ledger);
            one entry per group code, so as long as ``group`` when each unit is its own group.
        flags: per unit, ``done`` (live, warehouse event happened), ``kept`` (live and
            received), ``spare`` (not kept: not received, or its return cancelled/expired) and
            ``named`` (recon's ledger restocked this very unit).

    Units are taken in a fixed order within a group (Loop line item id, then price), so the
    same units are named whatever order the rows came in. Restocks cover done units first:
    those past the restocked count are missing. Restocks beyond the kept units are ghost stock,
    one spare unit per extra restock, and past the spare units too they are ghost stock with no
    unit of the return to name (a unit recon restocked and a refund restocked again, or a refund
    line restocking more than was returned).
    """
    done, kept, spare, named = flags
    total = restocked[group]
    if len(restocked) == len(group):  # a unit per group (usual): ranks 0, counts its flags
        missing = done & ~named & (total <= 0)
        extra = np.maximum(total - ~named, 0)  # an unnamed unit absorbs one counted restock
        return missing, spare & (named | (total > 0)), done.astype(np.int64), extra
    size = len(restocked)
    done, kept, left = done & ~named, kept & ~named, spare & ~named  # counted, not named
    done_rank, spare_rank, rank = _unit_ranks(
        group, (done, left, np.ones(len(group), dtype=bool)), unit_ids, prices
    )
    done_n = np.bincount(group, weights=flags[0], minlength=size).astype(np.int64)
    kept_n = np.bincount(group, weights=kept, minlength=size).astype(np.int64)
    left_n = np.bincount(group, weights=left, minlength=size).astype(np.int64)
    missing = done & (done_rank >= total)
    ghost = (spare & named) | (left & (spare_rank < total - kept_n[group]))
    beyond = np.maximum(restocked - kept_n - left_n, 0)
    return missing, ghost, done_n[group], np.where(rank == 0, beyond[group], 0)


def _unit_ranks(
    group: np.ndarray, masks: tuple[np.ndarray, ...], unit_ids: np.ndarray, prices: np.ndarray
) -> list[np.ndarray]:
    """Per mask, each masked unit's rank among its group's masked units, in unit order.

    A unit alone in its group ranks 0 (one unit per line item is the usual return): only the
    groups of several units are sorted.
    """
    ranks = [np.zeros(len(group), dtype=np.int64) for _ in masks]
    multi = np.flatnonzero(np.bincount(group)[group] > 1) if len(group) else group
    if not len(multi):
        return ranks
    ids = pd.factorize(unit_ids[multi], sort=True)[0]  # a missing id (-1) sorts last
    ids = np.where(ids < 0, len(multi), ids)
    order = multi[np.lexsort((prices[multi], ids, group[multi]))]
    g = group[order]
    start = np.r_[True, g[1:] != g[:-1]]
    for rank, mask in zip(ranks, masks, strict=True):
        m = mask[order].astype(np.int64)
        seen = np.cumsum(m)
        before = np.maximum.accumulate(np.where(start, seen - m, 0))  # count before the group
        rank[order] = seen - before - m
    return ranks


def _ledger_units(
    rma: np.ndarray,
    pli: np.ndarray,
    unit_ids: np.ndarray,
    prices: np.ndarray,
    ledger: Mapping[tuple[str, str], Sequence[str]],
) -> tuple[np.ndarray, dict[tuple[str, str], int]]:
    """Units recon's ledger names, and per line item the entries that name none of its units.

    ``ledger`` maps (rma, line item) to the Loop line item ids recon restocked ("" where a row
    did not record it). Those entries are counted like refund lines instead. Units are matched
    in unit order, so a repeated id names the same unit whatever order the rows came in.
    """
    named = np.zeros(len(unit_ids), dtype=bool)
    left = {key: Counter(str(i) for i in ids) for key, ids in ledger.items()}
    wanted = {str(i) for ids in ledger.values() for i in ids if i}
    found = np.flatnonzero(pd.Series(unit_ids, dtype=object).isin(wanted).to_numpy())
    for at in sorted(found, key=lambda i: (str(unit_ids[i]), int(prices[i]))):
        entries = left.get((str(rma[at]), str(pli[at])))
        if entries is not None and entries[str(unit_ids[at])] > 0:
            entries[str(unit_ids[at])] -= 1
            named[at] = True
    return named, {key: n for key, ids in left.items() if (n := sum(ids.values()))}


def _restock_merge(
    frames: Frames,
    lines: pd.DataFrame,
    event: WarehouseEvent,
    restocked_by_recon: Mapping[tuple[str, str], Sequence[str]],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Missing and ghost units through the string joins (returns repeat an RMA).

    Pairs are coded once (``keys.pair_codes``), not compared as tuples of strings (issue H10).
    """
    units = _units(frames, event)
    restocked = lines[lines["restocked"].astype(bool) & lines["pli"].notna()]
    named, counted = _ledger_units(
        units["rma"].to_numpy(dtype=object),
        units["pli"].to_numpy(dtype=object),
        units["line_item_id"].to_numpy(dtype=object),
        units["price_minor"].to_numpy(dtype=np.int64),
        restocked_by_recon,
    )
    ledger = list(counted.items())
    unit, refunded, by_recon = keys.pair_codes(
        (units["rma"], units["pli"]),
        (restocked["rma"].astype(str), restocked["pli"].astype(str)),
        (np.array([k[0] for k, _ in ledger], dtype=object), [k[1] for k, _ in ledger]),
    )
    group, size, (ref_at, recon_at) = keys.group_codes(unit, refunded, by_recon)
    total = keys.sum_at(ref_at, restocked["quantity"], size)
    total += keys.sum_at(recon_at, [n for _, n in ledger], size)
    closed_out = units["state"].isin(CLOSED_OUT).to_numpy()
    received = units["received"].to_numpy(dtype=bool)
    flags = (
        ~closed_out & units["event_done"].to_numpy(dtype=bool),
        ~closed_out & received,
        closed_out | ~received,
        named,
    )
    missing, ghost, done_n, extra = _net_units(
        group,
        total,
        flags,
        units["line_item_id"].to_numpy(dtype=object),
        units["price_minor"].to_numpy(dtype=np.int64),
    )
    one = np.ones(len(units), dtype=np.int64)
    short = keys.with_columns(units, done=done_n, weight=one, extra=0 * one, listed=True)
    over = keys.with_columns(
        units, done=done_n, weight=ghost.astype(np.int64) + extra, extra=extra, listed=ghost
    )
    return short[missing], over[ghost | (extra > 0)]


def _restock_masks(
    frames: Frames,
    lines: pd.DataFrame,
    event: WarehouseEvent,
    restocked_by_recon: Mapping[tuple[str, str], Sequence[str]],
    codes: Codes,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Missing and ghost units on codes: flags per return line, frames for the hits only."""
    ret, units = frames.returns, frames.return_lines
    unit_rma = codes.of("return_lines", "rma")
    at = keys.take(
        codes_mod.first_position(codes.of("returns", "rma"), codes.size("rma")), unit_rma, -1
    )
    row = np.flatnonzero(at >= 0)  # the inner join of return lines on returns
    r = at[row]
    state = ret["state"].to_numpy(dtype=object)[r]
    closed_out = pd.Series(state).isin(CLOSED_OUT).to_numpy()
    processed = (state == "closed") & ret["was_processed"].to_numpy(dtype=bool)[r]
    inspected = units["inspected"].to_numpy(dtype=bool)[row]  # graded: it is in the warehouse
    received = (ret["label_status"].to_numpy(dtype=object)[r] == "delivered") | processed
    received |= inspected
    done = {
        WarehouseEvent.RECEIVED: received,
        WarehouseEvent.PROCESSED: processed,
        WarehouseEvent.INSPECTED: inspected,
    }[event]
    width = np.int64(codes.size("line") + 1)  # ``blank`` may use code ``size`` for ""
    pli = codes_mod.blank(codes, "line", codes.of("return_lines", "provider_line_item_id"))[row]
    unit_ids = units["line_item_id"].to_numpy(dtype=object)[row]
    named, counted = (
        _ledger_units(
            units["rma"].to_numpy(dtype=object)[row],
            units["provider_line_item_id"].fillna("").to_numpy(dtype=object)[row],
            unit_ids,
            units["price_minor"].to_numpy(dtype=np.int64)[row],
            restocked_by_recon,
        )
        if restocked_by_recon
        else (np.zeros(len(row), dtype=bool), {})
    )
    group, total = _restocked_codes((unit_rma[row], pli), lines, counted, codes, width)
    missing, ghost, done_n, extra = _net_units(
        group,
        total,
        (~closed_out & done, ~closed_out & received, closed_out | ~received, named),
        unit_ids,
        units["price_minor"].to_numpy(dtype=np.int64)[row],
    )
    over = ghost | (extra > 0)
    return (
        _unit_rows(frames, row[missing], at[row[missing]], done_n[missing]),
        _unit_rows(frames, row[over], at[row[over]], done_n[over], (ghost[over], extra[over])),
    )


def _restocked_codes(
    unit: tuple[np.ndarray, np.ndarray],
    lines: pd.DataFrame,
    restocked_by_recon: Mapping[tuple[str, str], int],
    codes: Codes,
    width: np.int64,
) -> tuple[np.ndarray, np.ndarray]:
    """Each unit's group (its (rma, line item) code pair) and units restocked per group.

    Restocked = the ``quantity`` of linked refund lines with ``restocked``, plus recon's ledger.
    """
    done = lines["restocked"].to_numpy(dtype=bool) & (lines["pli_code"].to_numpy() >= 0)
    refunded = (lines["rma_code"].to_numpy()[done], lines["pli_code"].to_numpy()[done])
    quantity = lines["quantity"].to_numpy()[done]
    ledger = list(restocked_by_recon.items())
    ledger_rma = codes.lookup("rma", [rma for (rma, _), _ in ledger])
    plis = np.array([pli for (_, pli), _ in ledger], dtype=object)
    ledger_pli = codes.lookup("line", plis)
    if len(plis):  # "" names the units whose line item is missing (``fillna("")``)
        ledger_pli = np.where(
            plis == "", codes_mod.blank(codes, "line", np.array([-1]))[0], ledger_pli
        )
    known = (ledger_rma >= 0) & (ledger_pli >= 0)
    by_recon = (ledger_rma[known], ledger_pli[known])
    units = np.array([n for _, n in ledger], dtype=np.int64)[known]
    if codes_mod.is_unique(unit[1], int(width)):  # one unit per line item: a lookup per pli
        first = codes_mod.first_position(unit[1], int(width))
        group = np.arange(len(unit[1]), dtype=np.int64)
        ref_at, recon_at = (  # pli codes here are >= 0; a line item no unit has is at -1
            np.where(keys.take(unit[0], at, -1) == rma, at, -1)
            for rma, at in ((refunded[0], first[refunded[1]]), (by_recon[0], first[by_recon[1]]))
        )
        size = len(group)
    else:
        group, size, (ref_at, recon_at) = keys.group_codes(
            unit[0] * width + unit[1],
            refunded[0] * width + refunded[1],
            by_recon[0] * width + by_recon[1],
        )
    return group, keys.sum_at(ref_at, quantity, size) + keys.sum_at(recon_at, units, size)


def _unit_rows(
    frames: Frames,
    row: np.ndarray,
    ret_row: np.ndarray,
    done_n: np.ndarray,
    ghost: tuple[np.ndarray, np.ndarray] | None = None,
) -> pd.DataFrame:
    """The ``_units`` columns ``_per_line`` reads, for a few return lines (``row``).

    ``ghost``: (is the unit itself at issue, restocks beyond the units returned) per row; by
    default every row is one unit at issue.
    """
    units, ret = frames.return_lines, frames.returns
    listed, extra = ghost if ghost is not None else (np.ones(len(row), dtype=bool), None)
    extra = extra if extra is not None else np.zeros(len(row), dtype=np.int64)
    return pd.DataFrame(
        {
            "rma": units["rma"].to_numpy(dtype=object)[row],
            "pli": units["provider_line_item_id"].to_numpy(dtype=object)[row],
            "line_item_id": units["line_item_id"].to_numpy(dtype=object)[row],
            "price_minor": units["price_minor"].to_numpy()[row],
            "sku": units["sku"].to_numpy(dtype=object)[row],
            "restock_location_id": units["restock_location_id"].to_numpy(dtype=object)[row],
            "currency": ret["currency"].to_numpy(dtype=object)[ret_row],
            "order_id": ret["order_id"].to_numpy(dtype=object)[ret_row],
            "order_name": ret["order_name"].to_numpy(dtype=object)[ret_row],
            "done": done_n,
            "weight": listed.astype(np.int64) + extra,
            "extra": extra,
            "listed": listed,
        }
    ).fillna({"pli": ""})
