"""What the probes answer."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class HealthOut(BaseModel):
    status: Literal["ok"]


class ReadinessOut(BaseModel):
    status: Literal["ready"]
    position: int | None = Field(description="The last event the read model has applied.")
    lag: int = Field(description="Events recorded but not yet in the read model.")
