"""`sahaya simulate call` plays a call through the Exotel sandbox against a running Sahaya
and prints what happened, as a timeline; `sahaya simulate message` sends a customer's
WhatsApp message as Meta would (signed envelope) and prints the ticket it made."""

from __future__ import annotations

import json
from typing import Annotated, Any

import httpx
import typer

from sahaya.channels.exotel.sandbox import Behaviour, Phone, Sandbox
from sahaya.channels.textlocal.fake import inbound_form
from sahaya.channels.whatsapp_cloud.fake import envelope, sign, text_message
from sahaya.cli.common import run
from sahaya.customers import InvalidPhone, to_e164
from sahaya.demo.seed import SMS_FILE, WHATSAPP_FILE
from sahaya.settings import Settings, get_settings

app = typer.Typer(
    no_args_is_help=True, help="Simulated provider traffic (Exotel and WhatsApp sandboxes)"
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


async def _post(base: str, path: str, **request: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        return await client.post(path, **request)


def _whatsapp(settings: Settings, wa_id: str, text: str) -> tuple[str, dict[str, Any]]:
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
    return f"/webhooks/whatsapp/{saved['account_id']}", {"content": body, "headers": headers}


def _sms(settings: Settings, number: str, text: str) -> tuple[str, dict[str, Any]]:
    saved = _demo_file(settings, SMS_FILE)
    path = f"/webhooks/sms/{saved['account_id']}/inbound?key={saved.get('webhook_key', '')}"
    return path, {"data": inbound_form(number, text)}


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
    channel: Annotated[str, typer.Option(help="whatsapp or sms")] = "whatsapp",
    url: Annotated[str | None, typer.Option(help="Sahaya's base URL")] = None,
) -> None:
    """Send one customer message to the demo's WhatsApp number (signed as Meta signs it) or
    SMS inbox (posted as Textlocal posts it) and print what Sahaya made of it. The
    acknowledgement then goes out through the sandbox, whose receipts come back."""
    settings = get_settings()
    base = url or f"http://{settings.host}:{settings.port}"
    try:
        number = to_e164(sender).lstrip("+")
    except InvalidPhone as exc:
        raise typer.BadParameter(str(exc), param_hint="--from") from None
    if channel == "whatsapp":
        path, request = _whatsapp(settings, number, text)
    elif channel == "sms":
        path, request = _sms(settings, number, text)
    else:
        raise typer.BadParameter("whatsapp or sms", param_hint="--channel")
    try:
        response = run(_post(base, path, **request))
    except httpx.HTTPError as exc:
        typer.echo(f"could not reach Sahaya at {base}: {exc}", err=True)
        raise typer.Exit(1) from None
    if response.status_code != 200:
        typer.echo(f"Sahaya answered {response.status_code}: {response.text}", err=True)
        raise typer.Exit(1)
    for item in response.json().get("outcomes", []):
        ticket = f" — ticket {item['ticket']}" if item.get("ticket") else ""
        typer.echo(f"{item['outcome']}{ticket}")
