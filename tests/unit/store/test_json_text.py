"""The mirror's JSON text: NUL characters and lone UTF-16 halves become U+FFFD, the rest is kept.

``json_text`` skips its two scans when the text spells neither escape; these check that the skip
never changes what is stored, against the scans applied to every payload.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from recon.store.connect import _NUL, _SURROGATE, _whole_pairs, json_text

# Characters that make or imitate the escapes the scans look for.
_TRICKY = st.sampled_from(["\x00", "\ud83d", "\ude00", "\U0001f600", "\\", "u", "0", "d", "8"])
_TEXT = st.lists(st.one_of(_TRICKY, st.characters()), max_size=12).map("".join)


def _scanned(value: Any) -> str:
    return _SURROGATE.sub(_whole_pairs, _NUL.sub(r"\1\\ufffd", json.dumps(value)))


@given(st.dictionaries(_TEXT, st.one_of(_TEXT, st.lists(_TEXT, max_size=3)), max_size=4))
def test_json_text_is_the_scanned_text_whatever_the_payload(value: dict[str, Any]) -> None:
    assert json_text(value) == _scanned(value)


def test_a_payload_with_a_nul_or_a_lone_half_is_cleaned_and_a_plain_one_kept() -> None:
    assert json.loads(json_text({"title": "Tee\x00 shirt"})) == {"title": "Tee\ufffd shirt"}
    assert json.loads(json_text({"t": "cut \ud83d"})) == {"t": "cut \ufffd"}
    assert json.loads(json_text({"t": "smile \U0001f600"})) == {"t": "smile \U0001f600"}
    assert json_text({"t": "literal \\u0000"}) == json.dumps({"t": "literal \\u0000"})
