"""Fixtures the engine tests share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from engine_builders import without_pyarrow


@pytest.fixture(params=["pyarrow", "no pyarrow"])
def arrow(request: pytest.FixtureRequest) -> Iterator[None]:
    """Run the engine as installed, then as on a server without pyarrow (its import fails)."""
    if request.param == "pyarrow":
        pytest.importorskip("pyarrow")
        yield
        return
    with without_pyarrow():
        yield
