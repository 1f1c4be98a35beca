"""`sahaya channel add …`: set up a messaging account (credentials sealed in the database)
and print the webhook URL to give the provider."""

from __future__ import annotations

import secrets
import uuid
from typing import Annotated, Any

import typer

from sahaya.channels.email import IMAP_PROVIDER, LISTENER_PROVIDER
from sahaya.channels.exotel import sms as exotel_sms
from sahaya.channels.telegram import api as telegram
from sahaya.channels.textlocal import api as textlocal
from sahaya.channels.whatsapp_cloud import api as whatsapp
from sahaya.cli.common import database_url, default_tenant_id, run, with_uow
from sahaya.messaging import accounts
from sahaya.messaging.domain import Channel
from sahaya.persistence import UnitOfWork
from sahaya.settings import get_settings

app = typer.Typer(no_args_is_help=True, help="Messaging accounts (WhatsApp, Telegram, SMS, email)")


def _public_base() -> str:
    settings = get_settings()
    return settings.voice_public_url or f"http://{settings.host}:{settings.port}"


def _create(
    channel: Channel,
    provider: str,
    name: str,
    address: str,
    api_base_url: str,
    account_settings: dict[str, Any],
    account_secrets: dict[str, str],
) -> str:
    settings = get_settings()

    async def work(uow: UnitOfWork) -> str:
        row = await accounts.create(
            uow=uow,
            tenant_id=await default_tenant_id(uow, settings),
            channel=channel,
            provider=provider,
            name=name,
            address=address,
            api_base_url=api_base_url,
            settings=account_settings,
            secrets=account_secrets,
            secret_key=settings.secret_key.get_secret_value(),
        )
        return str(row.id)

    return run(with_uow(database_url(settings), work))


@app.command("whatsapp")
def add_whatsapp(
    phone_number_id: Annotated[str, typer.Option(help="The number's phone_number_id")],
    access_token: Annotated[str, typer.Option(help="A system user's access token")],
    app_secret: Annotated[str, typer.Option(help="The Meta app's secret (signatures)")],
    name: Annotated[str, typer.Option(help="A name for the account")] = "whatsapp",
    api_base_url: Annotated[str, typer.Option(help="Graph API")] = whatsapp.DEFAULT_BASE_URL,
) -> None:
    """Add a WhatsApp Cloud API number; prints the callback URL and verify token for the
    App Dashboard (Webhooks → messages)."""
    verify = secrets.token_urlsafe(18)
    account_id = _create(
        Channel.WHATSAPP,
        whatsapp.PROVIDER,
        name,
        phone_number_id,
        api_base_url,
        {},
        {"access_token": access_token, "app_secret": app_secret, "verify_token": verify},
    )
    typer.echo(f"callback URL: {_public_base()}/webhooks/whatsapp/{account_id}")
    typer.echo(f"verify token: {verify}")


@app.command("telegram")
def add_telegram(
    bot_username: Annotated[str, typer.Option(help="The bot's username, without @")],
    bot_token: Annotated[str, typer.Option(help="The token from @BotFather")],
    name: Annotated[str, typer.Option(help="A name for the account")] = "telegram",
    api_base_url: Annotated[str, typer.Option(help="Bot API")] = telegram.DEFAULT_BASE_URL,
) -> None:
    """Add a Telegram bot; prints the setWebhook call to make (with its secret token)."""
    secret = secrets.token_urlsafe(24)
    account_id = _create(
        Channel.TELEGRAM,
        telegram.PROVIDER,
        name,
        bot_username.lstrip("@"),
        api_base_url,
        {},
        {"bot_token": bot_token, "webhook_secret": secret},
    )
    url = f"{_public_base()}/webhooks/telegram/{account_id}"
    typer.echo(f"webhook URL: {url}")
    typer.echo(
        f"register it: curl -s {api_base_url}/bot<token>/setWebhook -d url={url}"
        f' -d secret_token={secret} -d \'allowed_updates=["message","callback_query"]\''
    )


@app.command("sms")
def add_sms(
    provider: Annotated[str, typer.Option(help="textlocal or exotel")],
    sender: Annotated[str, typer.Option(help="DLT-approved sender id (or the ExoPhone)")],
    api_key: Annotated[str, typer.Option(help="Textlocal apikey, or the Exotel API key")],
    api_token: Annotated[str, typer.Option(help="Exotel API token (Exotel only)")] = "",
    account_sid: Annotated[str, typer.Option(help="Exotel account SID (Exotel only)")] = "",
    dlt_entity_id: Annotated[str, typer.Option(help="DLT principal entity id")] = "",
    dlt_template: Annotated[
        list[str] | None,
        typer.Option(
            help="DLT template id of a Sahaya text, NAME=ID (otp, ticket_acknowledgement,"
            " registration_hint, agent_reply…; repeatable), or a bare ID for every text"
            " (Exotel only)"
        ),
    ] = None,
    name: Annotated[str, typer.Option(help="A name for the account")] = "sms",
    api_base_url: Annotated[str, typer.Option(help="Default: the provider's")] = "",
) -> None:
    """Add an SMS account (sign-in codes, replies, inbound SMS); prints the callback URLs."""
    key = secrets.token_urlsafe(24)
    if provider == "textlocal":
        chosen, base = textlocal.PROVIDER, api_base_url or textlocal.DEFAULT_BASE_URL
        account_secrets = {"apikey": api_key, "webhook_key": key}
        extra: dict[str, Any] = {}
    elif provider == "exotel":
        chosen, base = exotel_sms.PROVIDER, api_base_url or exotel_sms.DEFAULT_BASE_URL
        account_secrets = {"api_key": api_key, "api_token": api_token, "webhook_key": key}
        extra = {"account_sid": account_sid, "dlt_entity_id": dlt_entity_id}
        extra |= _dlt_templates(dlt_template or [])
    else:
        raise typer.BadParameter("textlocal or exotel", param_hint="--provider")
    account_id = _create(Channel.SMS, chosen, name, sender, base, {}, account_secrets)
    receipts = f"{_public_base()}/webhooks/sms/{account_id}/receipt?key={key}"
    settings_key = "receipt_url" if chosen == textlocal.PROVIDER else "status_callback"
    settings = get_settings()

    async def remember(uow: UnitOfWork) -> None:
        row = await accounts.by_id_in(uow=uow, account_id=uuid.UUID(account_id))
        assert row is not None  # noqa: S101 - just created
        row.settings = {**extra, settings_key: receipts}

    run(with_uow(database_url(settings), remember))
    typer.echo(f"delivery receipts: {receipts}")
    if chosen == textlocal.PROVIDER:
        inbound = f"{_public_base()}/webhooks/sms/{account_id}/inbound?key={key}"
        typer.echo(f"inbound SMS (Textlocal inbox): {inbound}")


def _dlt_templates(given: list[str]) -> dict[str, Any]:
    """`NAME=ID` pairs into `dlt_templates`, a bare `ID` into `dlt_template_id`."""
    found: dict[str, Any] = {}
    for item in given:
        name, sep, template_id = item.partition("=")
        if not sep:
            found["dlt_template_id"] = name.strip()
        elif name.strip() and template_id.strip():
            found.setdefault("dlt_templates", {})[name.strip()] = template_id.strip()
        else:
            raise typer.BadParameter(f"{item!r}: NAME=ID or ID", param_hint="--dlt-template")
    return found


@app.command("email")
def add_email(
    address: Annotated[str, typer.Option(help="The address customers write to")],
    imap_host: Annotated[
        str, typer.Option(help="IMAP server to poll; empty: mail comes via the SMTP listener")
    ] = "",
    imap_port: Annotated[int, typer.Option(help="Default: 993 with --ssl, else 143")] = 0,
    use_ssl: Annotated[bool, typer.Option("--ssl/--no-ssl", help="Implicit TLS (IMAPS)")] = True,
    starttls: Annotated[bool, typer.Option(help="STARTTLS (with --no-ssl)")] = False,
    mailbox: Annotated[str, typer.Option(help="The folder to poll")] = "INBOX",
    username: Annotated[str, typer.Option(help="IMAP login; default: the address")] = "",
    password: Annotated[
        str, typer.Option(envvar="SAHAYA_IMAP_PASSWORD", help="IMAP password")
    ] = "",
    name: Annotated[str, typer.Option(help="A name for the account")] = "email",
) -> None:
    """Add an email account: an IMAP mailbox the worker polls every 30 s, or (without
    --imap-host) an address the SMTP listener accepts mail for."""
    settings = get_settings()
    clean = address.strip().lower()
    if "@" not in clean:
        raise typer.BadParameter("an email address", param_hint="--address")
    imap = {"host": imap_host, "port": imap_port, "ssl": use_ssl, "starttls": starttls}
    account_id = _create(
        Channel.EMAIL,
        IMAP_PROVIDER if imap_host else LISTENER_PROVIDER,
        name,
        clean,
        "",
        {**imap, "mailbox": mailbox} if imap_host else {},
        {"username": username or clean, "password": password} if imap_host else {},
    )
    typer.echo(f"email account {account_id} for {clean}")
    if imap_host:
        typer.echo(f"  the worker polls {imap_host} ({mailbox}) every 30 s")
    elif not settings.smtp_listen_port:
        typer.echo("  set SAHAYA_SMTP_LISTEN_PORT so the worker listens for its mail")
