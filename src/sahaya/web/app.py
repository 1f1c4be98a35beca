"""The ASGI application: API, health, metrics. Handlers only translate (STYLE §3)."""

from __future__ import annotations

import gc
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

import sahaya
from sahaya.channels.telegram.fake import FakeBotApi
from sahaya.channels.textlocal.fake import FakeTextlocal
from sahaya.channels.whatsapp_cloud.fake import FakeGraphApi
from sahaya.demo import seed as demo
from sahaya.network import domain as network_domain
from sahaya.network import services as network
from sahaya.persistence import Database, UnitOfWork
from sahaya.settings import Settings, get_settings
from sahaya.tickets.attachments import AttachmentStore
from sahaya.voice.fallback import STATE_LINES
from sahaya.web import api, health, metrics, problems, webhooks
from sahaya.web.api import osticket
from sahaya.web.bodylimit import BodyLimit
from sahaya.web.deps import PrincipalCache
from sahaya.web.hotlane import HOT, HotLane
from sahaya.web.live import app_replies, screen_pops


def whatsapp_sandbox(config: Settings) -> FakeGraphApi | None:
    """Outside production, the demo's WhatsApp number sends through a Graph API sandbox in
    this process, which posts its delivery statuses back to our own webhook."""
    path = config.var_dir / demo.WHATSAPP_FILE
    if config.environment == "production" or not path.exists():
        return None
    saved = json.loads(path.read_text())
    return FakeGraphApi(
        phone_number_id=saved["phone_number_id"],
        access_token=saved["access_token"],
        app_secret=saved["app_secret"],
        webhook_url=f"http://{config.host}:{config.port}/webhooks/whatsapp/{saved['account_id']}",
    )


def sms_sandbox(config: Settings) -> Starlette | None:
    """Outside production, the demo's SMS account sends through a Textlocal sandbox in this
    process; `GET …/messages` lists what it "sent" (the demo's way to read a sign-in code)."""
    path = config.var_dir / demo.SMS_FILE
    if config.environment == "production" or not path.exists():
        return None
    fake = FakeTextlocal(apikey=json.loads(path.read_text())["apikey"])

    async def messages(request: Request) -> JSONResponse:
        recent = fake.sent[-20:]
        return JSONResponse([{"to": m.numbers, "message": m.message} for m in reversed(recent)])

    return Starlette(routes=[Route("/messages", messages), Mount("/", fake.app)])


def telegram_sandbox(config: Settings) -> FakeBotApi | None:
    """Outside production, the demo's Telegram bot calls a Bot API sandbox in this process,
    as if it were api.telegram.org."""
    path = config.var_dir / demo.TELEGRAM_FILE
    if config.environment == "production" or not path.exists():
        return None
    saved = json.loads(path.read_text())
    return FakeBotApi(
        saved["bot_token"],
        bot_username=demo.DEMO_TELEGRAM_BOT,
        secret_token=saved["webhook_secret"],
        webhook_url=f"http://{config.host}:{config.port}/webhooks/telegram/{saved['account_id']}",
    )


def create_app(database_url: str, settings: Settings | None = None) -> FastAPI:
    config = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database(database_url, pool_size=config.db_pool_size)
        async with UnitOfWork(database) as uow:
            tenant = await network.ensure_tenant(
                uow=uow, slug=config.default_tenant, name=config.default_tenant
            )
            await uow.commit()
        app.state.database = database
        app.state.tenant_id = tenant.id
        async with database.reading() as connection:  # known before any outage: the fallback
            await STATE_LINES.refresh(connection, tenant.id, config.chain_depth_state)
        app.state.screen_pops = screen_pops(database.url)
        app.state.app_replies = app_replies(database.url)
        # Outbound HTTP from request handlers (fetching a WhatsApp medium): one pool.
        app.state.http = httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=5.0))
        # Everything imported and built so far lives as long as the process: keep it out of
        # the collector's scans, which otherwise show up as latency spikes under load.
        gc.freeze()
        try:
            yield
        finally:
            await app.state.screen_pops.close()
            await app.state.app_replies.close()
            await app.state.http.aclose()
            await database.dispose()

    app = FastAPI(
        title="Sahaya",
        version=sahaya.__version__,
        summary="Omnichannel support and contact centre for franchise networks",
        lifespan=lifespan,
        # Sahaya reports through Prometheus (/metrics); FastAPI's own OpenTelemetry hooks
        # would otherwise look up the global providers on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = config
    app.state.principals = PrincipalCache()
    app.state.attachments = AttachmentStore(config.var_dir / "attachments")
    app.state.chain_depth = network_domain.ChainDepth(
        sub_district=config.chain_depth_sub_district,
        district=config.chain_depth_district,
        state=config.chain_depth_state,
    )
    problems.install(app)
    # Webhooks first: routes are matched in order, and providers' calls are the hot ones
    # (matching past the ~100 API routes was 5 % of a WhatsApp webhook's CPU).
    for router in webhooks.ROUTERS:
        app.include_router(router)
    app.include_router(osticket.router)  # intake is hot too
    for router in api.ROUTERS:
        app.include_router(router)
    app.include_router(health.router)
    sandbox = whatsapp_sandbox(config)
    if sandbox is not None:
        app.mount(demo.WHATSAPP_SANDBOX_PATH, sandbox.app)
    sms = sms_sandbox(config)
    if sms is not None:
        app.mount(demo.SMS_SANDBOX_PATH, sms)
    bot = telegram_sandbox(config)
    if bot is not None:
        app.mount(demo.TELEGRAM_SANDBOX_PATH, bot.app)
    app.add_route("/metrics", metrics.metrics_endpoint, include_in_schema=False)
    app.add_middleware(HotLane, owner=app, routes=HOT.routes)
    app.add_middleware(BodyLimit, default=config.request_max_bytes, limits=webhooks.BODY_LIMITS)
    app.add_middleware(metrics.MetricsMiddleware)
    return app
