"""The world file's field types: digit-string ids, ISO 4217 codes, decimal amounts, a strict model.

Shared by every part of the world format (``recon.sandbox.world``, ``world_loop``) and by the
ground truth (``recon.sandbox.truth``): a misspelt key is an error, not a silent default.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Id = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,20}$")]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Amount = Annotated[Decimal, Field(allow_inf_nan=False)]


class WorldModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False, validate_assignment=False)
