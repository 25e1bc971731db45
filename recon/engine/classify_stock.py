"""Stock findings: SKU_MISMATCH, MISSING_RESTOCK and GHOST_INVENTORY (line level)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from recon.config import WarehouseEvent
from recon.engine import codes as codes_mod
from recon.engine import keys
from recon.engine.classify_common import return_rows, rows
from recon.engine.codes import Codes
from recon.engine.frames import Frames
from recon.engine.link import concat_rows
from recon.models import Category

CLOSED_OUT = ("cancelled", "expired")


def linked_lines(frames: Frames, links: pd.DataFrame, codes: Codes) -> pd.DataFrame:
    """Refund lines of linked refunds, each with its return's RMA and the return line it is for.

    findings.md: refund lines link to return lines by ``line_item_id == provider_line_item_id``,
    then by SKU (the first return line of that SKU, in return-line order). ``pli`` is NaN when
    neither key finds a unit of the return. Rows carry the codes ``rma_code``, ``sku_code`` and
    ``pli_code`` (-1 when ``pli`` is missing) for the stock rules (issue H18).
    """
    lines = _refund_lines_of(frames, links, codes)
    units = frames.return_lines
    unit_rma, unit_pli = (
        codes.of("return_lines", "rma"),
        codes.of("return_lines", "provider_line_item_id"),
    )
    line_code = lines["line_code"].to_numpy()
    if codes_mod.is_unique(unit_pli, codes.size("line")):  # one unit per line item: a lookup
        at = keys.take(codes_mod.first_position(unit_pli, codes.size("line")), line_code, -1)
        by_id = (at >= 0) & (keys.take(unit_rma, at, -1) == lines["rma_code"].to_numpy())
    else:  # a membership test of (rma, line item) pairs, NA pairing with NA as in a merge
        by_id = keys.pair_member(
            (lines["rma"], lines["line_item_id"]), (units["rma"], units["provider_line_item_id"])
        )
    if by_id.all():  # every line found its unit (usual): no row selection, no copies
        return keys.with_columns(lines, pli=lines["line_item_id"], pli_code=line_code)
    found = keys.with_columns(
        lines[by_id], pli=lambda f: f["line_item_id"], pli_code=line_code[by_id]
    )
    rest = lines[~by_id]
    wanted = np.zeros(codes.size("rma") + 1, dtype=bool)
    wanted[rest["rma_code"].to_numpy()] = True
    wanted[-1] = False  # return lines with no RMA (-1) pair with no refund line
    near = units.loc[wanted[unit_rma], ["rma", "provider_line_item_id", "sku"]]
    near = near.assign(unit_pli_code=unit_pli[wanted[unit_rma]])
    by_sku = rest.merge(
        near.rename(columns={"sku": "unit_sku"}),
        left_on=["rma", "sku"],
        right_on=["rma", "unit_sku"],
    ).drop_duplicates("line_no")
    by_sku = by_sku.assign(pli=by_sku["provider_line_item_id"], pli_code=by_sku["unit_pli_code"])
    keep = [*lines.columns, "pli", "pli_code"]
    orphan = rest[~rest["line_no"].isin(by_sku["line_no"])].assign(pli=None, pli_code=-1)
    return concat_rows([found, by_sku, orphan], keep)


def _refund_lines_of(frames: Frames, links: pd.DataFrame, codes: Codes) -> pd.DataFrame:
    """Refund lines of linked refunds with the link's RMA (an inner join on the refund code)."""
    refund_lines, size = frames.refund_lines, codes.size("refund")
    link_refund = links["refund_code"].to_numpy()
    line_refund = codes.of("refund_lines", "refund_id")
    if not codes_mod.is_unique(link_refund, size):  # a refund linked twice: the merge
        lines = keys.inner_join(refund_lines, links[["refund_id", "rma"]], "refund_id")
        lines = lines.assign(
            rma_code=codes.lookup("rma", lines["rma"]),
            line_code=codes.lookup("line", lines["line_item_id"]),
            sku_code=codes.lookup("sku", lines["sku"]),
        )
    else:
        at = keys.take(codes_mod.first_position(link_refund, size), line_refund, -1)
        rows = np.flatnonzero(at >= 0)
        data = {c: keys.raw(refund_lines[c]).take(rows) for c in refund_lines.columns}
        data["rma"] = keys.raw(links["rma"]).take(at[rows])
        data["rma_code"] = links["rma_code"].to_numpy()[at[rows]]
        data["line_code"] = codes.of("refund_lines", "line_item_id")[rows]
        data["sku_code"] = codes.of("refund_lines", "sku")[rows]
        lines = pd.DataFrame(data, copy=False)
    lines.insert(0, "line_no", np.arange(len(lines), dtype=np.int64))
    return lines


def classify_sku(frames: Frames, lines: pd.DataFrame, codes: Codes) -> pd.DataFrame:
    """SKU_MISMATCH: the SKU multiset of linked refund lines differs from the return's."""
    size = codes.size("rma")
    line_rma = lines["rma_code"].to_numpy()
    unit_rma = codes.of("return_lines", "rma")
    wanted = np.zeros(size + 1, dtype=bool)
    wanted[line_rma] = True
    wanted[-1] = False
    keep = np.flatnonzero(wanted[unit_rma])  # units of RMAs with linked refund lines
    side = (
        (line_rma, codes_mod.blank(codes, "sku", lines["sku_code"].to_numpy())),
        (unit_rma[keep], codes_mod.blank(codes, "sku", codes.of("return_lines", "sku")[keep])),
    )
    quantity = lines["quantity"].to_numpy(np.int64)
    # One refund line against one unit (usual): the multisets are equal iff the SKUs are and
    # the quantity is 1. Other RMAs net their counts per (rma, sku) below.
    one = (np.bincount(side[0][0], minlength=size) == 1) & (
        np.bincount(side[1][0], minlength=size) == 1
    )
    at_line = codes_mod.first_position(side[0][0], size)
    at_unit = codes_mod.first_position(side[1][0], size)
    pair = np.flatnonzero(one)
    bad = np.zeros(size + 1, dtype=bool)
    bad[pair] = (quantity[at_line[pair]] != 1) | (
        side[0][1][at_line[pair]] != side[1][1][at_unit[pair]]
    )
    rest = (~one[side[0][0]], ~one[side[1][0]])
    bad[_net_mismatch(side, quantity, rest, np.int64(codes.size("sku") + 1))] = True
    bad[-1] = False
    hit = frames.returns[bad[codes.of("returns", "rma")]]
    return return_rows(
        Category.SKU_MISMATCH, hit, amount_minor=0, detail="refunded SKUs differ from returned SKUs"
    )


def _net_mismatch(
    side: tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
    quantity: np.ndarray,
    rest: tuple[np.ndarray, np.ndarray],
    width: np.int64,
) -> np.ndarray:
    """RMA codes whose refunded minus returned units differ for some SKU (``rest`` rows only).

    A multiset differs iff some net count per (rma, sku) is not 0: the same test as comparing
    the two counts side by side. SKUs compare with missing read as "" (``codes.blank``).
    """
    (line_rma, line_sku), (unit_rma, unit_sku) = side
    rma = np.concatenate([line_rma[rest[0]], unit_rma[rest[1]]])
    sku = np.concatenate([line_sku[rest[0]], unit_sku[rest[1]]])
    units = np.concatenate([quantity[rest[0]], np.full(int(rest[1].sum()), -1, dtype=np.int64)])
    slot, _ = pd.factorize(rma * width + sku)
    off = keys.sum_at(slot, units, int(slot.max(initial=-1)) + 1)[slot] != 0
    found: np.ndarray = rma[off]
    return found


def _units(frames: Frames, event: WarehouseEvent) -> pd.DataFrame:
    """Return units with ``received`` and ``event_done`` (findings.md "Vocabulary")."""
    ret = frames.returns[
        ["rma", "state", "label_status", "was_processed", "currency", "order_id", "order_name"]
    ]
    units = keys.inner_join(frames.return_lines, ret, "rma")
    processed = (units["state"] == "closed") & units["was_processed"]
    received = (units["label_status"] == "delivered") | processed | units["inspected"]
    done = {
        WarehouseEvent.RECEIVED: received,
        WarehouseEvent.PROCESSED: processed,
        WarehouseEvent.INSPECTED: units["inspected"],
    }[event]
    return keys.with_columns(
        units, received=received, event_done=done, pli=units["provider_line_item_id"].fillna("")
    )


def _per_line(units: pd.DataFrame) -> pd.DataFrame:
    return (
        units.groupby(["rma", "pli"], sort=False)
        .agg(
            amount=("price_minor", "sum"),
            sku=("sku", "first"),
            currency=("currency", "first"),
            order_id=("order_id", "first"),
            order_name=("order_name", "first"),
            location_id=("restock_location_id", "first"),
        )
        .reset_index()
    )


def _restocked(
    units: pd.DataFrame, lines: pd.DataFrame, restocked_by_recon: frozenset[tuple[str, str]]
) -> tuple[np.ndarray, np.ndarray]:
    """Per unit: is its (rma, pli) restocked by a linked refund line, or by recon's ledger?

    Pairs are looked up (``keys.pair_member``), not compared as tuples of strings (issue H10).
    """
    restocked = lines[lines["restocked"].astype(bool) & lines["pli"].notna()]
    unit = (units["rma"], units["pli"])
    ledger = (
        np.array([rma for rma, _ in restocked_by_recon], dtype=object),
        np.array([pli for _, pli in restocked_by_recon], dtype=object),
    )
    refunded = (restocked["rma"].astype(str), restocked["pli"].astype(str))
    return keys.pair_member(unit, refunded), keys.pair_member(unit, ledger)


def classify_restock(
    frames: Frames,
    lines: pd.DataFrame,
    event: WarehouseEvent,
    restocked_by_recon: frozenset[tuple[str, str]],
    codes: Codes,
) -> list[pd.DataFrame]:
    """MISSING_RESTOCK and GHOST_INVENTORY per (RMA, provider line item).

    A line item counts as restocked when any linked refund line for it has ``restocked`` (the
    simplest literal reading; quantities are not netted against units), or when recon's action
    ledger restocked it: a unit recon restocked for a return later cancelled is ghost stock too.
    """
    if codes_mod.is_unique(codes.of("returns", "rma"), codes.size("rma")):
        missing, ghost = _restock_masks(frames, lines, event, restocked_by_recon, codes)
    else:  # a repeated RMA: the join on returns repeats units, as the merge does
        missing, ghost = _restock_merge(frames, lines, event, restocked_by_recon)
    out = []
    for category, hit, detail in (
        (Category.MISSING_RESTOCK, _per_line(missing), "received unit not restocked in Shopify"),
        (Category.GHOST_INVENTORY, _per_line(ghost), "restocked but never received"),
    ):
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
                detail=detail,
            )
        )
    return out


def _restock_merge(
    frames: Frames,
    lines: pd.DataFrame,
    event: WarehouseEvent,
    restocked_by_recon: frozenset[tuple[str, str]],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Missing and ghost units through the string joins (returns repeat an RMA)."""
    units = _units(frames, event)
    is_restocked, by_recon = _restocked(units, lines, restocked_by_recon)
    live = ~units["state"].isin(CLOSED_OUT)
    missing = units[live.to_numpy() & units["event_done"].to_numpy() & ~is_restocked & ~by_recon]
    not_received = units["state"].isin(CLOSED_OUT) | ~units["received"]
    return missing, units[not_received.to_numpy() & (is_restocked | by_recon)]


def _restock_masks(
    frames: Frames,
    lines: pd.DataFrame,
    event: WarehouseEvent,
    restocked_by_recon: frozenset[tuple[str, str]],
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
    pair = unit_rma[row] * width + pli
    is_restocked, by_recon = _restocked_codes(pair, lines, restocked_by_recon, codes, width)
    missing = row[~closed_out & done & ~is_restocked & ~by_recon]
    ghost = row[(closed_out | ~received) & (is_restocked | by_recon)]  # recon's own count too
    return _unit_rows(frames, missing, at[missing]), _unit_rows(frames, ghost, at[ghost])


def _restocked_codes(
    pair: np.ndarray,
    lines: pd.DataFrame,
    restocked_by_recon: frozenset[tuple[str, str]],
    codes: Codes,
    width: np.int64,
) -> tuple[np.ndarray, np.ndarray]:
    """``_restocked`` on (rma, line item) code pairs: restocked by a refund line, by recon."""
    done = lines["restocked"].to_numpy(dtype=bool) & (lines["pli_code"].to_numpy() >= 0)
    refunded = lines["rma_code"].to_numpy()[done] * width + lines["pli_code"].to_numpy()[done]
    ledger_rma = codes.lookup("rma", [rma for rma, _ in restocked_by_recon])
    plis = np.array([pli for _, pli in restocked_by_recon], dtype=object)
    ledger_pli = codes.lookup("line", plis)
    if len(plis):  # "" names the units whose line item is missing (``fillna("")``)
        ledger_pli = np.where(
            plis == "", codes_mod.blank(codes, "line", np.array([-1]))[0], ledger_pli
        )
    known = (ledger_rma >= 0) & (ledger_pli >= 0)
    ledger = ledger_rma[known] * width + ledger_pli[known]
    return keys.member(pair, refunded), keys.member(pair, ledger)


def _unit_rows(frames: Frames, row: np.ndarray, ret_row: np.ndarray) -> pd.DataFrame:
    """The ``_units`` columns ``_per_line`` reads, for a few return lines (``row``)."""
    units, ret = frames.return_lines, frames.returns
    return pd.DataFrame(
        {
            "rma": units["rma"].to_numpy(dtype=object)[row],
            "pli": units["provider_line_item_id"].to_numpy(dtype=object)[row],
            "price_minor": units["price_minor"].to_numpy()[row],
            "sku": units["sku"].to_numpy(dtype=object)[row],
            "restock_location_id": units["restock_location_id"].to_numpy(dtype=object)[row],
            "currency": ret["currency"].to_numpy(dtype=object)[ret_row],
            "order_id": ret["order_id"].to_numpy(dtype=object)[ret_row],
            "order_name": ret["order_name"].to_numpy(dtype=object)[ret_row],
        }
    ).fillna({"pli": ""})
