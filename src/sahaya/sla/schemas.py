"""HTTP shapes of the SLA context."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class CalendarIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    tz: str = "Asia/Kolkata"
    preset: str | None = Field(default=None, description="24x7, 24x5 or office (Mon–Sat 9–18)")
    hours: dict[str, Any] | None = Field(
        default=None, description='Weekly windows, e.g. {"mon": [["09:00", "18:00"]]}'
    )
    holiday_region: str | None = Field(
        default="IN-KL", description="Public holidays (holidays package), e.g. IN-KL; null: none"
    )
    extra_holidays: list[date] = Field(default_factory=list)


class CalendarOut(BaseModel):
    id: uuid.UUID
    name: str
    tz: str
    hours: dict[str, Any]
    holiday_region: str | None
    extra_holidays: list[date]


class NodeCalendarIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    calendar_id: uuid.UUID | None = Field(description="null detaches (inherit from above)")


class NodeCalendarOut(BaseModel):
    node: str
    inherited_from: str | None = Field(description="Node whose calendar applies; null: default")
    calendar: CalendarOut | None = Field(description="null: the default 24x5 with IN-KL holidays")
