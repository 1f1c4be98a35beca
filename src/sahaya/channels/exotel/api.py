"""Exotel's outbound call API, `POST /v1/Accounts/{sid}/Calls/connect.json` (providers.md
§1.d): form-encoded, HTTP Basic (API key : token), the executive (`From`) rung first and the
customer (`To`) connected when they answer, a JSON status callback with `Legs`."""

from __future__ import annotations

import httpx

from sahaya.voice.ports import CallRequest, PlaceCallError, PlacerAccount

TRANSIENT = frozenset({408, 429, 500, 502, 503, 504})


class ExotelCalls:
    """`CallPlacer` over Exotel's REST API. One pooled HTTP client per worker process."""

    def __init__(self, client: httpx.AsyncClient | None = None, timeout: float = 10.0) -> None:
        self.client = client or httpx.AsyncClient(timeout=timeout)

    async def connect(self, account: PlacerAccount, request: CallRequest) -> str:
        url = (
            f"{account.api_base_url.rstrip('/')}/v1/Accounts/{account.account_sid}"
            "/Calls/connect.json"
        )
        form = {
            "From": request.first,
            "To": request.second,
            "CallerId": account.caller_id,
            "CallType": "trans",
            "TimeLimit": str(request.time_limit_seconds),
            "TimeOut": str(request.ring_seconds),
            "Record": "true",
            "RecordingChannels": "dual",
            "CustomField": request.custom_field[:128],
            "StatusCallback": request.status_callback,
            "StatusCallbackEvents[0]": "terminal",
            "StatusCallbackContentType": "application/json",
        }
        try:
            response = await self.client.post(
                url, data=form, auth=(account.api_key, account.api_token)
            )
        except httpx.HTTPError as exc:
            raise PlaceCallError(f"Exotel unreachable: {exc!r}", transient=True) from exc
        if response.status_code != 200:
            raise PlaceCallError(
                f"Exotel answered {response.status_code}: {_message(response)}",
                transient=response.status_code in TRANSIENT,
            )
        try:
            sid = response.json()["Call"]["Sid"]
        except (ValueError, KeyError, TypeError):
            raise PlaceCallError("Exotel's answer has no Call.Sid", transient=True) from None
        return str(sid)

    async def close(self) -> None:
        await self.client.aclose()


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json()["RestException"]["Message"])
    except (ValueError, KeyError, TypeError):
        return response.text[:200]
