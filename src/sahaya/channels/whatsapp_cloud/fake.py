"""A local stand-in for Meta's Graph API as the WhatsApp Cloud API uses it (providers.md §2):
`POST /{version}/{phone_number_id}/messages` with Bearer auth, validated the way Meta does
and answered with Graph's success or `{"error": {...}}` bodies; media metadata and download
(`GET /{version}/{media_id}`, then the returned URL); and, like Meta, signed webhook POSTs
(`X-Hub-Signature-256` over the exact escaped-unicode bytes) for the delivery statuses of
each accepted message and for simulated customer messages (`send_inbound`).

Why: Sahaya's WhatsApp channel must be exercised end to end — sends, retries on Graph
errors, status callbacks, signature checks — without a Meta account or network. It records
what it was sent (`sent`) and what our webhook answered (`posted`), and fails the next send
requests on demand (`fail_next`). Mount `app` anywhere ASGI runs (tests use
`tests.conftest.serving` for a real port).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import secrets
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sahaya.channels.multipart import parse_multipart

TYPES = ("text", "template", "interactive", "image", "document", "audio", "video", "location")
MEDIA_TYPES = ("image", "document", "audio", "video")
TIMEOUT_SECONDS = 30.0  # longer than any client timeout Sahaya uses


@dataclass
class Sent:
    phone_number_id: str
    body: dict[str, Any]
    wamid: str


@dataclass
class Posted:
    body: dict[str, Any]
    status: int  # what our webhook answered


@dataclass(frozen=True)
class Media:
    data: bytes
    mime_type: str


def sign(body: bytes, app_secret: str) -> str:
    """The `X-Hub-Signature-256` value Meta sends for `body`: `sha256=<hex hmac>`."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def envelope(
    *,
    phone_number_id: str,
    display_phone_number: str,
    waba_id: str,
    messages: Iterable[Mapping[str, Any]] = (),
    statuses: Iterable[Mapping[str, Any]] = (),
    contacts: Iterable[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """A whole `field: "messages"` webhook body; empty lists are left out, as Meta does."""
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": display_phone_number,
            "phone_number_id": phone_number_id,
        },
    }
    for key, items in (("contacts", contacts), ("messages", messages), ("statuses", statuses)):
        if listed := [dict(item) for item in items]:
            value[key] = listed
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": waba_id, "changes": [{"value": value, "field": "messages"}]}],
    }


def new_wamid(wa_id: str) -> str:
    """A message id in Meta's shape: base64 of a small binary header, the number, a key."""
    digits = wa_id.encode()
    key = uuid.uuid4().hex[:18].upper().encode()
    raw = b"\x1c\x18" + bytes([len(digits)]) + digits + b"\x15\x02\x00\x11\x18\x12" + key + b"\x00"
    return "wamid." + base64.b64encode(raw).decode()


def text_message(
    frm: str, body: str, *, wamid: str | None = None, timestamp: int | None = None
) -> dict[str, Any]:
    """One `messages[]` item: a customer's text."""
    return {
        "from": frm,
        "id": wamid or new_wamid(frm),
        "timestamp": str(timestamp if timestamp is not None else int(time.time())),
        "type": "text",
        "text": {"body": body},
    }


def _error(
    status: int,
    code: int,
    message: str,
    *,
    kind: str = "OAuthException",
    details: str | None = None,
    subcode: int | None = None,
) -> JSONResponse:
    error: dict[str, Any] = {"message": message, "type": kind, "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    if details is not None:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    error["fbtrace_id"] = "A" + secrets.token_urlsafe(16)
    return JSONResponse({"error": error}, status)


def _invalid(details: str) -> JSONResponse:
    return _error(400, 100, "(#100) Invalid parameter", details=details)


def _unsupported(method: str, object_id: str) -> JSONResponse:
    return _error(
        400,
        100,
        f"Unsupported {method} request. Object with ID '{object_id}' does not exist, cannot be "
        "loaded due to missing permissions, or does not support this operation. Please read "
        "the Graph API documentation at https://developers.facebook.com/docs/graph-api",
        kind="GraphMethodException",
        subcode=33,
    )


def _injected(failure: int | str) -> JSONResponse:
    if failure == 429:
        return _error(429, 130429, "(#130429) Rate limit hit", details="Cloud API throughput limit")
    if failure == 400:
        return _invalid("Injected failure")
    status = failure if isinstance(failure, int) else 500
    return _error(status, 131000, "Something went wrong", details="Injected failure")


def _problem(body: Any) -> str | None:
    """What Meta would reject in a send request, or None."""
    if not isinstance(body, dict):
        return "Request body must be a JSON object"
    if body.get("messaging_product") != "whatsapp":
        return "Param messaging_product must be 'whatsapp'"
    if not isinstance(body.get("to"), str) or not body["to"]:
        return "Param to is required"
    kind = body.get("type", "text")
    if kind not in TYPES:
        return f"Param type must be one of {{{', '.join(TYPES)}}}"
    obj = body.get(kind)
    if not isinstance(obj, dict):
        return f"Param {kind} is required"
    if kind == "text":
        text = obj.get("body")
        if not isinstance(text, str) or not text:
            return "Param text['body'] is required"
        if len(text) > 4096:
            return "Param text['body'] must be at most 4096 characters long"
    elif kind == "interactive":
        return _interactive_problem(obj)
    elif kind == "template":
        language = obj.get("language")
        if not isinstance(obj.get("name"), str) or not obj["name"]:
            return "Param template['name'] is required"
        if not isinstance(language, dict) or not language.get("code"):
            return "Param template['language']['code'] is required"
    elif kind in MEDIA_TYPES:
        if not obj.get("id") and not obj.get("link"):
            return f"Param {kind} must have either 'id' or 'link'"
    elif kind == "location" and ("latitude" not in obj or "longitude" not in obj):
        return "Param location['latitude'] and location['longitude'] are required"
    return None


def _interactive_problem(obj: dict[str, Any]) -> str | None:
    if not isinstance(obj.get("action"), dict):
        return "Param interactive['action'] is required"
    if obj.get("type") != "button":
        return None  # list, cta_url, flow…: not checked further
    body = obj.get("body")
    text = body.get("text") if isinstance(body, dict) else None
    if not isinstance(text, str) or not text:
        return "Param interactive['body']['text'] is required"
    buttons = obj["action"].get("buttons")
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
        return "Param interactive['action']['buttons'] must have between 1 and 3 elements"
    for i, button in enumerate(buttons):
        reply = button.get("reply") if isinstance(button, dict) else None
        if not isinstance(reply, dict) or button.get("type") != "reply":
            return f"Param interactive['action']['buttons'][{i}] must be a reply button"
        rid, title = reply.get("id"), reply.get("title")
        if not isinstance(rid, str) or not 1 <= len(rid) <= 256:
            return f"Param interactive['action']['buttons'][{i}]['reply']['id'] is invalid"
        if not isinstance(title, str) or not 1 <= len(title) <= 20:
            return f"Param interactive['action']['buttons'][{i}]['reply']['title'] is invalid"
    titles = [b["reply"]["title"] for b in buttons]
    ids = [b["reply"]["id"] for b in buttons]
    if len(set(titles)) != len(titles) or len(set(ids)) != len(ids):
        return "Button titles and ids must be unique"
    return None


@dataclass
class FakeGraphApi:
    phone_number_id: str
    access_token: str
    app_secret: str
    display_phone_number: str = "914842000000"
    waba_id: str = "102290129340398"
    webhook_url: str | None = None  # where statuses and simulated customer messages go
    # Who posts them (a plain client per post by default; tests pass one bound to the app).
    webhook_client: httpx.AsyncClient | None = None
    statuses: tuple[str, ...] = ("sent", "delivered")  # posted after each accepted send
    sent: list[Sent] = field(default_factory=list)
    posted: list[Posted] = field(default_factory=list)
    # 429, 400, 500, 503, "timeout"; "ok" lets that send through (to fail the one after)
    fail_next: list[int | str] = field(default_factory=list)
    # recipient wa_id → details of a `failed` status (code 131026) posted instead of `statuses`
    fail_status_for: dict[str, str] = field(default_factory=dict)
    media: dict[str, Media] = field(default_factory=dict)
    uploads: list[tuple[str, str, bytes]] = field(default_factory=list)  # name, type, bytes
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _conversations: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.app = Starlette(
            routes=[
                Route("/whatsapp-media/{media_id}", self.download, methods=["GET"]),
                Route("/{version}/{phone_number_id}/messages", self.messages, methods=["POST"]),
                Route("/{version}/{phone_number_id}/media", self.upload, methods=["POST"]),
                Route("/{version}/{media_id}", self.media_info, methods=["GET"]),
            ]
        )

    def add_media(self, data: bytes, mime_type: str) -> str:
        """Register an uploaded file; returns its media id."""
        media_id = str(10**15 + uuid.uuid4().int % (9 * 10**15))
        self.media[media_id] = Media(data, mime_type)
        return media_id

    def _refused(self, request: Request) -> JSONResponse | None:
        given = request.headers.get("authorization", "")
        if hmac.compare_digest(given.encode(), f"Bearer {self.access_token}".encode()):
            return None
        return _error(401, 190, "Invalid OAuth access token - Cannot parse access token")

    @staticmethod
    def _bad_version(request: Request) -> JSONResponse | None:
        if re.fullmatch(r"v\d+\.\d+", request.path_params["version"]):
            return None
        return _error(400, 2500, f"Unknown path components: {request.url.path}")

    async def messages(self, request: Request) -> JSONResponse:
        if refused := self._refused(request) or self._bad_version(request):
            return refused
        if request.path_params["phone_number_id"] != self.phone_number_id:
            return _unsupported("post", request.path_params["phone_number_id"])
        failure = self.fail_next.pop(0) if self.fail_next else "ok"
        if failure != "ok":  # "ok" lets one send through, to fail a later one
            if failure == "timeout":
                await asyncio.sleep(TIMEOUT_SECONDS)  # the client gives up first; not recorded
            return _injected(failure)
        try:
            body = json.loads(await request.body())
        except ValueError:
            return _invalid("Request body is not valid JSON")
        if problem := _problem(body):
            return _invalid(problem)
        to: str = body["to"]
        wa_id = "".join(ch for ch in to if ch.isdigit())
        wamid = new_wamid(wa_id)
        self.sent.append(Sent(self.phone_number_id, body, wamid))
        if self.webhook_url:
            self._tasks.append(asyncio.create_task(self._report(wamid, wa_id)))
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": wa_id}],
                "messages": [{"id": wamid}],
            }
        )

    async def upload(self, request: Request) -> JSONResponse:
        """`POST /<PHONE_NUMBER_ID>/media`, multipart with `messaging_product`, `type` and
        `file`, answering `{"id": <media id>}` as the Cloud API does."""
        if refused := self._refused(request) or self._bad_version(request):
            return refused
        if request.path_params["phone_number_id"] != self.phone_number_id:
            return _unsupported("post", request.path_params["phone_number_id"])
        try:
            fields, files = parse_multipart(
                request.headers.get("content-type", ""), await request.body()
            )
        except ValueError:
            return _invalid("expected multipart/form-data")
        if fields.get("messaging_product") != "whatsapp" or "file" not in files:
            return _invalid("messaging_product=whatsapp and a file are required")
        upload = files["file"]
        mime = fields.get("type") or upload.content_type
        media_id = self.add_media(upload.data, mime)
        self.uploads.append((upload.file_name, mime, upload.data))
        return JSONResponse({"id": media_id})

    def _status(self, wamid: str, wa_id: str, status: str) -> dict[str, Any]:
        event: dict[str, Any] = {
            "id": wamid,
            "status": status,
            "timestamp": str(int(time.time())),
            "recipient_id": wa_id,
        }
        if status == "failed":
            error = "Message undeliverable"
            event["errors"] = [
                {
                    "code": 131026,
                    "title": error,
                    "message": error,
                    "error_data": {"details": self.fail_status_for.get(wa_id) or error},
                }
            ]
        elif status in ("sent", "delivered"):  # Meta leaves them off `read`
            conversation = self._conversations.setdefault(wa_id, uuid.uuid4().hex)
            event["conversation"] = {"id": conversation, "origin": {"type": "service"}}
            if status == "sent":
                event["conversation"]["expiration_timestamp"] = str(int(time.time()) + 86400)
            event["pricing"] = {"billable": True, "pricing_model": "CBP", "category": "service"}
        return event

    async def _report(self, wamid: str, wa_id: str) -> None:
        statuses = ("failed",) if wa_id in self.fail_status_for else self.statuses
        for status in statuses:
            await self.post(self._envelope(statuses=[self._status(wamid, wa_id, status)]))

    def _envelope(self, **parts: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
        return envelope(
            phone_number_id=self.phone_number_id,
            display_phone_number=self.display_phone_number,
            waba_id=self.waba_id,
            **parts,
        )

    async def post(self, body: dict[str, Any]) -> httpx.Response:
        """Sign `body` as Meta does (escaped unicode) and POST it to `webhook_url`."""
        if self.webhook_url is None:
            raise RuntimeError("FakeGraphApi.webhook_url is not set")
        raw = json.dumps(body, ensure_ascii=True, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": sign(raw, self.app_secret),
            "User-Agent": "facebookexternalua",
        }
        client = self.webhook_client or httpx.AsyncClient(timeout=10)
        try:
            answer = await client.post(self.webhook_url, content=raw, headers=headers)
        finally:
            if self.webhook_client is None:
                await client.aclose()
        self.posted.append(Posted(body, answer.status_code))
        return answer

    async def send_inbound(
        self, message: dict[str, Any], *, contact_name: str = "Customer", wa_id: str | None = None
    ) -> httpx.Response:
        """Deliver one customer `messages[]` item to our webhook, as Meta would."""
        contact = {"profile": {"name": contact_name}, "wa_id": wa_id or message["from"]}
        return await self.post(self._envelope(messages=[message], contacts=[contact]))

    async def media_info(self, request: Request) -> JSONResponse:
        if refused := self._refused(request) or self._bad_version(request):
            return refused
        media_id = request.path_params["media_id"]
        if (media := self.media.get(media_id)) is None:
            return _unsupported("get", media_id)
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "url": f"{request.base_url}whatsapp-media/{media_id}?token={uuid.uuid4().hex}",
                "mime_type": media.mime_type,
                "sha256": hashlib.sha256(media.data).hexdigest(),
                "file_size": len(media.data),
                "id": media_id,
            }
        )

    async def download(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        if (media := self.media.get(request.path_params["media_id"])) is None:
            return _error(404, 100, "Media not found", kind="GraphMethodException")
        return Response(media.data, media_type=media.mime_type)

    async def flush(self) -> None:
        """Wait until every status callback scheduled so far has been posted."""
        pending, self._tasks = self._tasks, []
        await asyncio.gather(*pending)
