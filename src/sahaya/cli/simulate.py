"""`sahaya simulate call` plays a call through the Exotel sandbox against a running Sahaya
and prints what happened, as a timeline; `sahaya simulate message` sends a customer's
WhatsApp, SMS or Telegram message as the provider would deliver it and prints the ticket
it made."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import httpx
import typer

from sahaya.channels.exotel.sandbox import Behaviour, Phone, Sandbox
from sahaya.channels.telegram.fake import contact_update, text_update
from sahaya.channels.textlocal.fake import inbound_form
from sahaya.channels.whatsapp_cloud.fake import envelope, sign, text_message
from sahaya.cli.common import run
from sahaya.customers import InvalidPhone, to_e164
from sahaya.demo.seed import SMS_FILE, TELEGRAM_FILE, WHATSAPP_FILE
from sahaya.settings import Settings, get_settings

app = typer.Typer(
    no_args_is_help=True,
    help="Simulated provider traffic (Exotel, WhatsApp, SMS and Telegram sandboxes)",
)
DEMO_KEY_FILE = "demo-exotel.key"


def _numbers(values: list[str] | None, behaviour: Behaviour, after: int) -> dict[str, Phone]:
    phones = {}
    for value in values or []:
        try:
            phones[to_e164(value)] = Phone(behaviour, after_seconds=after)
        except InvalidPhone as exc:
            raise typer.BadParameter(str(exc)) from None
    return phones


@app.command("call")
def call(
    caller: Annotated[str, typer.Option("--from", help="Caller's number, any format")],
    answer: Annotated[
        list[str] | None, typer.Option(help="Executive phone that picks up (repeatable)")
    ] = None,
    busy: Annotated[list[str] | None, typer.Option(help="Executive phone that is busy")] = None,
    reject: Annotated[list[str] | None, typer.Option(help="Executive phone that rejects")] = None,
    digits: Annotated[str | None, typer.Option(help="IVR menu choice")] = None,
    hangup_after: Annotated[
        int | None, typer.Option(help="The caller gives up after this many seconds")
    ] = None,
    url: Annotated[str | None, typer.Option(help="Sahaya's base URL")] = None,
    key: Annotated[
        str | None, typer.Option(help="Exotel account key (default: the demo's)")
    ] = None,
) -> None:
    """Play one inbound call: gate → dial → ring each executive → outcome. Unlisted
    executives do not answer."""
    settings = get_settings()
    base = url or f"http://{settings.host}:{settings.port}"
    secret = key
    if secret is None:
        path = settings.var_dir / DEMO_KEY_FILE
        if not path.exists():
            raise typer.BadParameter(
                f"no --key given and no demo key in {path}", param_hint="--key"
            )
        secret = path.read_text().strip()
    phones = (
        _numbers(busy, Behaviour.BUSY, 3)
        | _numbers(reject, Behaviour.REJECT, 4)
        | _numbers(answer, Behaviour.ANSWER, 6)
    )

    async def play() -> str:
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            sandbox = Sandbox(client, secret, phones=phones, hangup_after=hangup_after)
            trace = await sandbox.call(caller, digits=digits)
        return trace.timeline()

    try:
        typer.echo(run(play()))
    except httpx.HTTPError as exc:
        typer.echo(f"could not reach Sahaya at {base}: {exc}", err=True)
        raise typer.Exit(1) from None


def _whatsapp(settings: Settings, wa_id: str, text: str) -> Step:
    saved = _demo_file(settings, WHATSAPP_FILE)
    body = json.dumps(
        envelope(
            phone_number_id=saved["phone_number_id"],
            display_phone_number="914842000000",
            waba_id="100000000000000",
            messages=[text_message(wa_id, text)],
            contacts=[{"profile": {"name": "Demo customer"}, "wa_id": wa_id}],
        )
    ).encode()
    headers = {
        "content-type": "application/json",
        "x-hub-signature-256": sign(body, saved["app_secret"]),
    }
    return f"/webhooks/whatsapp/{saved['account_id']}", {"content": body, "headers": headers}, False


def _sms(settings: Settings, number: str, text: str) -> Step:
    saved = _demo_file(settings, SMS_FILE)
    path = f"/webhooks/sms/{saved['account_id']}/inbound?key={saved.get('webhook_key', '')}"
    return path, {"data": inbound_form(number, text)}, False


def _demo_file(settings: Settings, name: str) -> dict[str, str]:
    path = settings.var_dir / name
    if not path.exists():
        raise typer.BadParameter(f"no demo account in {path}; run `make run` first")
    loaded: dict[str, str] = json.loads(path.read_text())
    return loaded


@app.command("message")
def message(
    text: Annotated[str, typer.Argument(help="What the customer writes")],
    sender: Annotated[str, typer.Option("--from", help="Customer's number, any format")],
    channel: Annotated[str, typer.Option(help="whatsapp, sms or telegram")] = "whatsapp",
    url: Annotated[str | None, typer.Option(help="Sahaya's base URL")] = None,
) -> None:
    """Send one customer message to the demo's WhatsApp number (signed as Meta signs it),
    SMS inbox (posted as Textlocal posts it) or Telegram bot (as the Bot API delivers it)
    and print what Sahaya made of it. On Telegram a chat is anonymous until linked: if the
    bot does not know it, the customer shares their contact (the registration hint's
    button) and writes again. Acknowledgements go out through the sandboxes."""
    settings = get_settings()
    base = url or f"http://{settings.host}:{settings.port}"
    try:
        number = to_e164(sender).lstrip("+")
    except InvalidPhone as exc:
        raise typer.BadParameter(str(exc), param_hint="--from") from None
    if channel == "whatsapp":
        steps = [_whatsapp(settings, number, text)]
    elif channel == "sms":
        steps = [_sms(settings, number, text)]
    elif channel == "telegram":
        steps = _telegram(settings, number, text)
    else:
        raise typer.BadParameter("whatsapp, sms or telegram", param_hint="--channel")
    try:
        lines = run(_play(base, steps))
    except httpx.HTTPError as exc:
        typer.echo(f"could not reach Sahaya at {base}: {exc}", err=True)
        raise typer.Exit(1) from None
    except _Refused as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    for line in lines:
        typer.echo(line)


# One webhook request: (path, httpx request arguments, whether it is only sent — it and
# every step after it — when the message before it came from an unknown sender).
Step = tuple[str, dict[str, Any], bool]


class _Refused(Exception):
    pass


async def _play(base: str, steps: list[Step]) -> list[str]:
    lines: list[str] = []
    unknown = False
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        for path, request, only_if_unknown in steps:
            if only_if_unknown and not unknown:
                break
            response = await client.post(path, **request)
            if response.status_code != 200:
                raise _Refused(f"Sahaya answered {response.status_code}: {response.text}")
            outcomes = response.json().get("outcomes", [])
            unknown = any(item["outcome"] == "unknown_sender" for item in outcomes)
            if only_if_unknown:
                lines.append("the customer shares their contact with the bot")
            for item in outcomes:
                ticket = f" — ticket {item['ticket']}" if item.get("ticket") else ""
                lines.append(f"{item['outcome']}{ticket}")
    return lines


def _telegram(settings: Settings, number: str, text: str) -> list[Step]:
    """The message; and, for a chat the bot does not know yet, the customer's own contact
    (`contact.user_id == from.id`, which links the chat) and the message again."""
    saved = _demo_file(settings, TELEGRAM_FILE)
    path = f"/webhooks/telegram/{saved['account_id']}"
    headers = {
        "content-type": "application/json",
        "x-telegram-bot-api-secret-token": saved["webhook_secret"],
    }
    chat = 5_000_000_000 + int(number[-9:])  # one private chat per demo number
    first = time.time_ns() // 1000 % 2**31  # update ids only grow

    def step(update: dict[str, Any], only_if_unknown: bool = False) -> Step:
        return path, {"content": json.dumps(update).encode(), "headers": headers}, only_if_unknown

    return [
        step(text_update(first, chat, text)),
        step(contact_update(first + 1, chat, number, contact_user_id=chat), only_if_unknown=True),
        step(text_update(first + 2, chat, text)),
    ]
