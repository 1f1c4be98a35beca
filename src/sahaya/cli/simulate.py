"""`sahaya simulate call`: play a call through the Exotel sandbox against a running Sahaya
and print what happened, as a timeline."""

from __future__ import annotations

from typing import Annotated

import httpx
import typer

from sahaya.channels.exotel.sandbox import Behaviour, Phone, Sandbox
from sahaya.cli.common import run
from sahaya.customers import InvalidPhone, to_e164
from sahaya.settings import get_settings

app = typer.Typer(no_args_is_help=True, help="Simulated provider traffic (Exotel sandbox)")
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
