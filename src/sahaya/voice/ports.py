"""The port through which Sahaya places calls (callbacks). Exotel's `Calls/connect` is the
adapter (channels/exotel/api.py); the sandbox stands in for it in tests and the demo."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class PlacerAccount:
    """What an adapter needs of the account: where and as whom to call the provider."""

    api_base_url: str
    account_sid: str
    api_key: str
    api_token: str
    caller_id: str


@dataclass(frozen=True, slots=True)
class CallRequest:
    first: str  # rung first: the executive
    second: str  # connected once the first answers: the customer
    status_callback: str
    custom_field: str
    time_limit_seconds: int = 3600
    ring_seconds: int = 30


class PlaceCallError(Exception):
    """The provider did not take the call; `transient` says whether trying later may help."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class CallPlacer(Protocol):
    async def connect(self, account: PlacerAccount, request: CallRequest) -> str:
        """Place the call; returns the provider's call id (Exotel's CallSid)."""
        ...
