"""Stock findings at line level: refund lines linked to return units, and SKU_MISMATCH.

MISSING_RESTOCK and GHOST_INVENTORY are in ``classify_restock``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from recon.engine import codes as codes_mod
from recon.engine import keys
from recon.engine.classify_common import return_rows
from recon.engine.codes import Codes
from recon.engine.frames import Frames
from recon.engine.link import concat_rows
from recon.models import Category


def linked_lines(frames: Frames, links: pd.DataFrame, codes: Codes) -> pd.DataFrame:
    """Refund lines of linked refunds, each with its return's RMA and the return line it is for.

    findings.md: refund lines link to return lines by ``line_item_id == provider_line_item_id``,
    then by SKU (the first return line of that SKU, in return-line order; a line with no SKU
    links by its line item only). ``pli`` is NaN when neither key finds a unit of the return.
    Rows carry the codes ``rma_code``, ``sku_code`` and ``pli_code`` (-1 when ``pli`` is
    missing) for the stock rules (issue H18).
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
    # A line with no SKU (Shopify's sku null or "") has none to link by: another product
    # without a SKU is not the same item (the merge would pair NaN with NaN and "" with "").
    sku = rest["sku"].to_numpy(dtype=object)
    by_sku = (
        rest[pd.notna(sku) & (sku != "")]
        .merge(
            near.rename(columns={"sku": "unit_sku"}),
            left_on=["rma", "sku"],
            right_on=["rma", "unit_sku"],
        )
        .drop_duplicates("line_no")
    )
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
            refund_code=codes.lookup("refund", lines["refund_id"]),
        )
    else:
        at = keys.take(codes_mod.first_position(link_refund, size), line_refund, -1)
        rows = np.flatnonzero(at >= 0)
        data = {c: keys.raw(refund_lines[c]).take(rows) for c in refund_lines.columns}
        data["rma"] = keys.raw(links["rma"]).take(at[rows])
        data["rma_code"] = links["rma_code"].to_numpy()[at[rows]]
        data["line_code"] = codes.of("refund_lines", "line_item_id")[rows]
        data["sku_code"] = codes.of("refund_lines", "sku")[rows]
        data["refund_code"] = line_refund[rows]
        lines = pd.DataFrame(data, copy=False)
    lines.insert(0, "line_no", np.arange(len(lines), dtype=np.int64))
    return lines


def classify_sku(
    frames: Frames, lines: pd.DataFrame, codes: Codes, refunded_nothing: np.ndarray
) -> pd.DataFrame:
    """SKU_MISMATCH: the SKU multiset of linked refund lines differs from the return's.

    Lines of a refund that refunded nothing (``refunded_nothing``, per refund code: every money
    transaction failed or bounced) are not counted: a declined refund and its paid retry name
    the same SKUs once, not twice.
    """
    if refunded_nothing.any():
        dud = np.append(refunded_nothing, False)  # code -1 (no refund id) is never a dud
        lines = lines[~dud[lines["refund_code"].to_numpy()]]
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
