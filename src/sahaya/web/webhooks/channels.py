"""What every messaging webhook shares: finding its account by the id in the URL, and
handing the parsed events to the ticket pipeline with this process's configuration."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from fastapi import Request
from fastapi.responses import PlainTextResponse

from sahaya.channels import registry
from sahaya.messaging import accounts
from sahaya.messaging.accounts import ChannelAccount
from sahaya.messaging.domain import Channel
from sahaya.persistence import Database
from sahaya.persistence.unreachable import UNREACHABLE
from sahaya.settings import Settings
from sahaya.tickets import channel_events
from sahaya.tickets.inbound import InboundConfig
from sahaya.web.deps import clock


def plain(status: int, message: str) -> PlainTextResponse:
    """A webhook's refusal: providers log the body, so it says what was wrong."""
    return PlainTextResponse(message, status_code=status)


async def account_for(request: Request, raw_id: str, channel: Channel) -> ChannelAccount | None:
    try:
        account_id = uuid.UUID(raw_id)
    except ValueError:
        return None
    settings: Settings = request.app.state.settings
    account = await accounts.by_id(
        database=request.app.state.database,
        account_id=account_id,
        secret_key=settings.secret_key.get_secret_value(),
    )
    return account if account is not None and account.channel == channel else None


async def accept(
    request: Request, account: ChannelAccount, batch: Sequence[channel_events.Event]
) -> channel_events.Accepted:
    state = request.app.state
    database: Database = state.database
    config: InboundConfig | None = getattr(state, "inbound_config", None)
    if config is None:  # once per app: building it cost ~40 µs of every webhook
        config = state.inbound_config = InboundConfig.from_settings(state.settings)
    return await channel_events.accept(
        database=database,
        account=account,
        batch=batch,
        now=await clock(),
        config=config,
        fetch_media=registry.media_fetcher(account, request.app.state.http),
        unreachable=UNREACHABLE,
    )
