"""A local stand-in for the Telegram Bot API (providers.md §3): method calls at
`/bot<token>/<method>` with JSON, urlencoded or multipart bodies, validated the way Telegram
does and answered with `{"ok": true, "result": ...}` or `{"ok": false, "error_code",
"description"}`; file metadata (`getFile`) and download (`/file/bot<token>/<file_path>`);
and, like Telegram, webhook POSTs of `Update` objects carrying the
`X-Telegram-Bot-Api-Secret-Token` header (`post_update`). Module-level builders make the
updates a customer's actions produce: text, `/start` with or without a deep-link token, a
shared contact, a photo, a document, an inline-button tap.

Why: Sahaya's Telegram channel must be exercised end to end — sends, retries on Bot API
errors, blocked users, file transfer, webhook secret checks — without a bot or network. It
records what it was sent (`sent`) and what our webhook answered (`posted`), and fails the
next send requests on demand (`fail_next`). Mount `app` anywhere ASGI runs (tests use
`tests.conftest.serving` for a real port).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import mimetypes
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sahaya.channels.multipart import Upload, parse_multipart

TIMEOUT_SECONDS = 30.0  # longer than any client timeout Sahaya uses
SEND_METHODS = ("sendmessage", "senddocument", "sendphoto")  # what `fail_next` applies to
MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64  # bytes
MAX_DOWNLOAD = 20 * 1024 * 1024  # getFile refuses bigger files
BOT_FIRST_NAME = "Apnafood Help"
DEFAULT_BOT_ID = 7012345678
SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
# (width, height, share of the original's bytes) of the sizes Telegram makes of a photo
PHOTO_SIZES = ((90, 67, 1 / 64), (320, 240, 1 / 8), (800, 600, 1 / 2), (1280, 960, 1.0))
_FILE_ID_PREFIX = {"document": "BQACAgUAAxkBAAI", "photo": "AgACAgUAAxkBAAI"}


@dataclass
class SentCall:
    method: str  # as Telegram names it, e.g. "sendMessage"
    params: dict[str, Any]  # chat_id as int, reply_markup as an object; no uploaded files
    message_id: int  # 0 for calls that send no message
    files: dict[str, bytes] = field(default_factory=dict)  # uploaded multipart files by field
    result: Any = None  # what the fake answered in `result`


@dataclass
class Posted:
    body: dict[str, Any]
    status: int  # what our webhook answered


@dataclass(frozen=True)
class FileData:
    data: bytes
    mime_type: str
    file_path: str  # relative, as in `getFile`: "documents/file_12.pdf"
    file_name: str = ""
    file_unique_id: str = ""


class BadRequest(Exception):
    """A call Telegram would answer with 400 and this description."""


def _digest(*parts: object, size: int = 12) -> str:
    raw = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")[:size]


def _number(*parts: object, digits: int = 19) -> int:
    raw = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    low = int("1" + "0" * (digits - 1))
    return low + int.from_bytes(raw[:8], "big") % (9 * low)


def file_unique_id(file_id: str) -> str:
    """A stable `file_unique_id` for `file_id`, in Telegram's short "AgAD…" form."""
    return "AgAD" + _digest("unique", file_id)


def bot_user(bot_id: int = DEFAULT_BOT_ID, username: str = "apnafood_help_bot") -> dict[str, Any]:
    """The `User` object of our bot, as it appears in `from` of the messages it sends."""
    return {"id": bot_id, "is_bot": True, "first_name": BOT_FIRST_NAME, "username": username}


def user(
    user_id: int,
    first_name: str = "Anjali",
    username: str | None = "anj",
    language_code: str | None = "ml",
) -> dict[str, Any]:
    """A customer's `User` object; fields Telegram has no value for are left out."""
    found: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
    if username is not None:
        found["username"] = username
    if language_code is not None:
        found["language_code"] = language_code
    return found


def private_chat(
    chat_id: int, first_name: str = "Anjali", username: str | None = "anj"
) -> dict[str, Any]:
    """The `Chat` of a one-to-one conversation; its id is the user's id."""
    chat: dict[str, Any] = {"id": chat_id, "first_name": first_name}
    if username is not None:
        chat["username"] = username
    chat["type"] = "private"
    return chat


def _message(
    chat_id: int,
    *,
    update_id: int,
    message_id: int | None,
    date: int | None,
    first_name: str,
) -> dict[str, Any]:
    return {
        "message_id": message_id if message_id is not None else update_id % 100_000 + 1,
        "from": user(chat_id, first_name),
        "chat": private_chat(chat_id, first_name),
        "date": date if date is not None else int(time.time()),
    }


def text_update(
    update_id: int,
    chat_id: int,
    text: str,
    *,
    message_id: int | None = None,
    date: int | None = None,
    first_name: str = "Anjali",
) -> dict[str, Any]:
    """A customer's text in a private chat (`from.id == chat.id`)."""
    message = _message(
        chat_id, update_id=update_id, message_id=message_id, date=date, first_name=first_name
    )
    message["text"] = text
    return {"update_id": update_id, "message": message}


def start_update(
    update_id: int,
    chat_id: int,
    token: str | None,
    *,
    message_id: int | None = None,
    date: int | None = None,
    first_name: str = "Anjali",
) -> dict[str, Any]:
    """`/start`, or `/start <token>` when the customer opened `t.me/<bot>?start=<token>`."""
    message = _message(
        chat_id, update_id=update_id, message_id=message_id, date=date, first_name=first_name
    )
    message["text"] = "/start" if token is None else f"/start {token}"
    message["entities"] = [{"offset": 0, "length": 6, "type": "bot_command"}]
    return {"update_id": update_id, "message": message}


def contact_update(
    update_id: int,
    chat_id: int,
    phone_number: str,
    *,
    contact_user_id: int | None,
    first_name: str = "Anjali",
    message_id: int | None = None,
    date: int | None = None,
) -> dict[str, Any]:
    """A shared contact. The customer's own (after a `request_contact` button) has
    `contact_user_id == chat_id`; a forwarded card has another id, or none."""
    message = _message(
        chat_id, update_id=update_id, message_id=message_id, date=date, first_name=first_name
    )
    contact: dict[str, Any] = {"phone_number": phone_number, "first_name": first_name}
    if contact_user_id is not None:
        contact["user_id"] = contact_user_id
    message["contact"] = contact
    return {"update_id": update_id, "message": message}


def document_update(
    update_id: int,
    chat_id: int,
    file_id: str,
    file_name: str,
    mime_type: str,
    caption: str | None = None,
    *,
    file_size: int = 48213,
    message_id: int | None = None,
    date: int | None = None,
    first_name: str = "Anjali",
) -> dict[str, Any]:
    """A file the customer sent as a document."""
    message = _message(
        chat_id, update_id=update_id, message_id=message_id, date=date, first_name=first_name
    )
    message["document"] = {
        "file_name": file_name,
        "mime_type": mime_type,
        "file_id": file_id,
        "file_unique_id": file_unique_id(file_id),
        "file_size": file_size,
    }
    if caption is not None:
        message["caption"] = caption
    return {"update_id": update_id, "message": message}


def photo_sizes(file_id: str, file_size: int = 127454) -> list[dict[str, Any]]:
    """The `PhotoSize` list of a photo, smallest first; the last, largest, is `file_id`."""
    sizes = []
    for width, height, share in PHOTO_SIZES:
        largest = share == 1.0
        size_id = (
            file_id if largest else _FILE_ID_PREFIX["photo"] + _digest(file_id, width, size=56)
        )
        sizes.append(
            {
                "file_id": size_id,
                "file_unique_id": file_unique_id(size_id),
                "file_size": max(1, int(file_size * share)),
                "width": width,
                "height": height,
            }
        )
    return sizes


def photo_update(
    update_id: int,
    chat_id: int,
    file_id: str,
    caption: str | None = None,
    *,
    message_id: int | None = None,
    date: int | None = None,
    first_name: str = "Anjali",
) -> dict[str, Any]:
    """A photo the customer sent (compressed by Telegram into several sizes)."""
    message = _message(
        chat_id, update_id=update_id, message_id=message_id, date=date, first_name=first_name
    )
    message["photo"] = photo_sizes(file_id)
    if caption is not None:
        message["caption"] = caption
    return {"update_id": update_id, "message": message}


def callback_update(
    update_id: int,
    chat_id: int,
    data: str,
    *,
    message_id: int = 57,
    message_text: str = "Cancel order 4512?",
    date: int | None = None,
    first_name: str = "Anjali",
    bot: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A tap on an inline button carrying `data`, under our message `message_id`."""
    now = date if date is not None else int(time.time())
    return {
        "update_id": update_id,
        "callback_query": {
            "id": str(_number("callback", chat_id, update_id)),
            "from": user(chat_id, first_name),
            "message": {
                "message_id": message_id,
                "from": dict(bot) if bot is not None else bot_user(),
                "chat": private_chat(chat_id, first_name),
                "date": now - 60,
                "text": message_text,
                "reply_markup": {"inline_keyboard": [[{"text": "Confirm", "callback_data": data}]]},
            },
            "chat_instance": str(-_number("chat_instance", chat_id)),
            "data": data,
        },
    }


def _fail(status: int, description: str, **parameters: Any) -> JSONResponse:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return JSONResponse(body, status)


def _ok(result: Any, description: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"ok": True, "result": result}
    if description is not None:
        body["description"] = description
    return JSONResponse(body)


def _injected(failure: int | str) -> JSONResponse:
    if failure == 429:
        return _fail(429, "Too Many Requests: retry after 3", retry_after=3)
    if failure == 400:
        return _fail(400, "Bad Request: chat not found")
    if failure == 403:
        return _fail(403, "Forbidden: bot was blocked by the user")
    if failure == 502:
        return _fail(502, "Bad Gateway")
    status = failure if isinstance(failure, int) else 500
    return _fail(status, "Internal Server Error")


def _parse_multipart(content_type: str, raw: bytes) -> tuple[dict[str, Any], dict[str, Upload]]:
    try:
        params, uploads = parse_multipart(content_type, raw)
    except ValueError:
        raise BadRequest("Bad Request: can't parse multipart/form-data") from None
    return dict(params), uploads


def _chat_id(params: dict[str, Any]) -> int:
    value = params.get("chat_id")
    if value is None or value == "":
        raise BadRequest("Bad Request: chat_id is empty")
    if isinstance(value, bool):
        raise BadRequest("Bad Request: chat not found")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    raise BadRequest("Bad Request: chat not found")


def _json_param(params: dict[str, Any], name: str, problem: str) -> Any:
    value = params.get(name)
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise BadRequest(problem) from None
        params[name] = value
    return value


def _check_markup(params: dict[str, Any]) -> None:
    cannot = "Bad Request: can't parse reply keyboard markup JSON object"
    markup = _json_param(params, "reply_markup", cannot)
    if markup is None:
        return
    if not isinstance(markup, dict):
        raise BadRequest(cannot)
    if "inline_keyboard" in markup:
        for button in _buttons(markup["inline_keyboard"], "inline keyboard"):
            data = button.get("callback_data")
            if isinstance(data, str):
                if not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA:
                    raise BadRequest("Bad Request: BUTTON_DATA_INVALID")
            elif not any(key in button for key in ("url", "web_app", "login_url", "pay")):
                raise BadRequest(
                    "Bad Request: can't parse inline keyboard button: Text buttons are "
                    "unallowed in the inline keyboard"
                )
    elif "keyboard" in markup:
        for _ in _buttons(markup["keyboard"], "keyboard"):
            pass
    elif not markup.get("remove_keyboard") and not markup.get("force_reply"):
        raise BadRequest(cannot)


def _buttons(rows: Any, kind: str) -> list[dict[str, Any]]:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise BadRequest(f'Bad Request: field "{kind.replace(" ", "_")}" must be an Array')
    buttons: list[dict[str, Any]] = []
    for row in rows:
        for button in row:
            if isinstance(button, str) and kind == "keyboard":
                button = {"text": button}
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise BadRequest(
                    f'Bad Request: can\'t parse {kind} button: Field "text" must be of type String'
                )
            if not button["text"]:
                raise BadRequest("Bad Request: text buttons are unallowed")
            buttons.append(button)
    return buttons


def _caption(params: dict[str, Any]) -> str | None:
    caption = params.get("caption")
    if caption is None:
        return None
    if not isinstance(caption, str):
        raise BadRequest("Bad Request: caption must be a String")
    if len(caption) > MAX_CAPTION:
        raise BadRequest("Bad Request: message caption is too long")
    return caption


@dataclass
class FakeBotApi:
    token: str  # "<bot id>:<secret>", as BotFather issues them
    bot_username: str = "apnafood_help_bot"
    webhook_url: str | None = None  # where `post_update` delivers; `setWebhook` changes it
    secret_token: str = ""  # sent as X-Telegram-Bot-Api-Secret-Token when not empty
    # Who posts updates (a plain client per post by default; tests pass one bound to the app).
    webhook_client: httpx.AsyncClient | None = None
    allowed_updates: list[str] | None = None  # as last given to `setWebhook`
    sent: list[SentCall] = field(default_factory=list)  # accepted calls but getMe/getFile
    posted: list[Posted] = field(default_factory=list)
    # 429, 400, 403, 500, 502, "timeout"; "ok" lets that send through (to fail the one after)
    fail_next: list[int | str] = field(default_factory=list)
    blocked_chats: set[int] = field(default_factory=set)  # users who blocked the bot
    files: dict[str, FileData] = field(default_factory=dict)  # by file_id
    _tasks: list[asyncio.Task[httpx.Response]] = field(default_factory=list)
    _message_ids: dict[int, int] = field(default_factory=dict)
    _file_count: int = 0

    def __post_init__(self) -> None:
        self.app = Starlette(
            routes=[
                Route("/file/bot{token}/{file_path:path}", self.download, methods=["GET"]),
                Route("/bot{token}/{method}", self.call, methods=["GET", "POST"]),
            ]
        )

    @property
    def bot_id(self) -> int:
        head = self.token.partition(":")[0]
        return int(head) if head.isdigit() else DEFAULT_BOT_ID

    @property
    def me(self) -> dict[str, Any]:
        return bot_user(self.bot_id, self.bot_username)

    def add_file(self, data: bytes, mime_type: str, file_name: str = "") -> str:
        """Register a file (as if a customer had sent it); returns its new file_id. An image
        without a file name is a photo (`photos/file_3.jpg`), anything else a document
        (`documents/file_12.pdf`)."""
        kind = "photo" if mime_type.startswith("image/") and not file_name else "document"
        return self._store(data, mime_type, file_name, kind)

    def _store(self, data: bytes, mime_type: str, file_name: str, kind: str) -> str:
        self._file_count += 1
        suffix = ""
        if "." in file_name:
            suffix = "." + file_name.rsplit(".", 1)[1].lower()
        else:
            suffix = mimetypes.guess_extension(mime_type) or ""
        if kind == "photo":
            suffix = ".jpg"  # Telegram re-encodes photos as JPEG
        folder = "photos" if kind == "photo" else "documents"
        file_id = _FILE_ID_PREFIX[kind] + secrets.token_urlsafe(42)
        file_path = f"{folder}/file_{self._file_count}{suffix}"
        self.files[file_id] = FileData(
            data, mime_type, file_path, file_name, file_unique_id(file_id)
        )
        return file_id

    def _refused(self, request: Request) -> JSONResponse | None:
        given = request.path_params["token"]
        if hmac.compare_digest(given.encode(), self.token.encode()):
            return None
        return _fail(401, "Unauthorized")

    async def call(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        method = request.path_params["method"].lower()  # Bot API methods are case-insensitive
        handler = {
            "getme": self._get_me,
            "sendmessage": self._send_message,
            "senddocument": self._send_document,
            "sendphoto": self._send_photo,
            "answercallbackquery": self._answer_callback_query,
            "getfile": self._get_file,
            "setwebhook": self._set_webhook,
        }.get(method)
        if handler is None:
            return _fail(404, "Not Found")
        failure = self.fail_next.pop(0) if method in SEND_METHODS and self.fail_next else "ok"
        if failure != "ok":  # "ok" lets one send through, to fail a later one
            if failure == "timeout":
                await asyncio.sleep(TIMEOUT_SECONDS)  # the client gives up first; not recorded
            return _injected(failure)
        try:
            params, uploads = await self._params(request)
            return handler(params, uploads)
        except BadRequest as problem:
            return _fail(400, str(problem))

    @staticmethod
    async def _params(request: Request) -> tuple[dict[str, Any], dict[str, Upload]]:
        params: dict[str, Any] = dict(request.query_params)
        raw = await request.body()
        content_type = request.headers.get("content-type", "")
        kind = content_type.partition(";")[0].strip().lower()
        if kind == "multipart/form-data":
            fields, uploads = _parse_multipart(content_type, raw)
            return params | fields, uploads
        if kind == "application/x-www-form-urlencoded":
            return params | dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True)), {}
        if raw.strip():
            try:
                body = json.loads(raw)
            except ValueError:
                raise BadRequest("Bad Request: can't parse JSON object") from None
            if not isinstance(body, dict):
                raise BadRequest("Bad Request: can't parse JSON object")
            params |= body
        return params, {}

    def _next_message(self, chat_id: int) -> dict[str, Any]:
        message_id = self._message_ids.get(chat_id, 0) + 1
        self._message_ids[chat_id] = message_id
        return {
            "message_id": message_id,
            "from": self.me,
            "chat": {"id": chat_id, "type": "private"},
            "date": int(time.time()),
        }

    def _recipient(self, params: dict[str, Any]) -> int:
        chat_id = _chat_id(params)
        params["chat_id"] = chat_id
        return chat_id

    def _blocked(self, chat_id: int) -> JSONResponse | None:
        if chat_id in self.blocked_chats:
            return _fail(403, "Forbidden: bot was blocked by the user")
        return None

    def _record(
        self,
        method: str,
        params: dict[str, Any],
        result: Any,
        files: dict[str, bytes] | None = None,
    ) -> JSONResponse:
        message_id = result["message_id"] if isinstance(result, dict) else 0
        self.sent.append(SentCall(method, params, message_id, files or {}, result))
        return _ok(result)

    def _get_me(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Response:
        return _ok(
            self.me
            | {
                "can_join_groups": True,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
            }
        )

    def _send_message(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Response:
        chat_id = self._recipient(params)
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise BadRequest("Bad Request: message text is empty")
        if len(text) > MAX_TEXT:
            raise BadRequest("Bad Request: message is too long")
        _check_markup(params)
        if blocked := self._blocked(chat_id):
            return blocked
        message = self._next_message(chat_id)
        message["text"] = text
        return self._record("sendMessage", params, message)

    def _file_param(
        self, params: dict[str, Any], uploads: dict[str, Upload], name: str, kind: str
    ) -> tuple[str, FileData, dict[str, bytes]]:
        """The file_id and data a send refers to, registering uploads and URLs as new files."""
        value = params.pop(name, None)
        upload = uploads.get(name)
        if isinstance(value, str) and value.startswith("attach://"):
            upload = uploads.get(value.removeprefix("attach://"))
            value = None
        if upload is not None:
            mime = mimetypes.guess_type(upload.file_name)[0] or upload.content_type
            if kind == "photo":
                mime = "image/jpeg"
            file_id = self._store(upload.data, mime, upload.file_name, kind)
            return file_id, self.files[file_id], {name: upload.data}
        if not isinstance(value, str) or not value:
            raise BadRequest(f"Bad Request: there is no {name} in the request")
        params[name] = value
        if value in self.files:
            return value, self.files[value], {}
        if urlsplit(value).scheme in ("http", "https"):  # not fetched: recorded as empty
            file_name = urlsplit(value).path.rsplit("/", 1)[-1]
            mime = mimetypes.guess_type(file_name)[0] or "application/octet-stream"
            file_id = self._store(b"", mime, file_name, kind)
            return file_id, self.files[file_id], {}
        raise BadRequest("Bad Request: wrong file identifier/HTTP URL specified")

    def _send_document(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Response:
        chat_id = self._recipient(params)
        file_id, file, files = self._file_param(params, uploads, "document", "document")
        caption = _caption(params)
        _check_markup(params)
        if blocked := self._blocked(chat_id):
            return blocked
        message = self._next_message(chat_id)
        message["document"] = {
            "file_name": file.file_name or file.file_path.rsplit("/", 1)[-1],
            "mime_type": file.mime_type,
            "file_id": file_id,
            "file_unique_id": file.file_unique_id,
            "file_size": len(file.data),
        }
        if caption is not None:
            message["caption"] = caption
        return self._record("sendDocument", params, message, files)

    def _send_photo(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Response:
        chat_id = self._recipient(params)
        file_id, file, files = self._file_param(params, uploads, "photo", "photo")
        caption = _caption(params)
        _check_markup(params)
        if blocked := self._blocked(chat_id):
            return blocked
        message = self._next_message(chat_id)
        sizes = photo_sizes(file_id, len(file.data))
        for size in sizes[:-1]:  # the smaller sizes download as the same bytes
            if size["file_id"] not in self.files:
                self.files[size["file_id"]] = FileData(
                    file.data, file.mime_type, file.file_path, "", size["file_unique_id"]
                )
            size["file_size"] = len(file.data)
        message["photo"] = sizes
        if caption is not None:
            message["caption"] = caption
        return self._record("sendPhoto", params, message, files)

    def _answer_callback_query(
        self, params: dict[str, Any], uploads: dict[str, Upload]
    ) -> Response:
        query_id = params.get("callback_query_id")
        if not isinstance(query_id, str) or not query_id:
            raise BadRequest(
                "Bad Request: query is too old and response timeout expired or query ID is invalid"
            )
        text = params.get("text")
        if isinstance(text, str) and len(text) > 200:
            raise BadRequest("Bad Request: MESSAGE_TOO_LONG")
        return self._record("answerCallbackQuery", params, True)

    def _get_file(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Response:
        file_id = params.get("file_id")
        if not isinstance(file_id, str) or (file := self.files.get(file_id)) is None:
            raise BadRequest("Bad Request: invalid file_id")
        if len(file.data) > MAX_DOWNLOAD:
            raise BadRequest("Bad Request: file is too big")
        return _ok(
            {
                "file_id": file_id,
                "file_unique_id": file.file_unique_id,
                "file_size": len(file.data),
                "file_path": file.file_path,
            }
        )

    def _set_webhook(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Response:
        url = params.get("url", "")
        if not isinstance(url, str):
            raise BadRequest("Bad Request: bad webhook: Failed to resolve host")
        secret = params.get("secret_token", "")
        if secret and not (isinstance(secret, str) and SECRET_TOKEN.fullmatch(secret)):
            raise BadRequest("Bad Request: secret token contains unallowed characters")
        allowed = _json_param(
            params, "allowed_updates", "Bad Request: can't parse allowed updates JSON array"
        )
        if allowed is not None and not (
            isinstance(allowed, list) and all(isinstance(kind, str) for kind in allowed)
        ):
            raise BadRequest("Bad Request: can't parse allowed updates JSON array")
        self.webhook_url = url or None
        self.secret_token = secret
        self.allowed_updates = allowed
        self.sent.append(SentCall("setWebhook", params, 0, {}, True))
        return _ok(True, "Webhook was set" if url else "Webhook was deleted")

    async def download(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        path = request.path_params["file_path"]
        for file in self.files.values():
            if file.file_path == path:
                return Response(file.data, media_type=file.mime_type)
        return _fail(404, "Not Found")

    async def post_update(self, update: dict[str, Any]) -> httpx.Response:
        """POST one `Update` to `webhook_url` as Telegram does, with the secret header."""
        if self.webhook_url is None:
            raise RuntimeError("FakeBotApi.webhook_url is not set")
        raw = json.dumps(update, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json"}
        if self.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = self.secret_token
        client = self.webhook_client or httpx.AsyncClient(timeout=10)
        try:
            answer = await client.post(self.webhook_url, content=raw, headers=headers)
        finally:
            if self.webhook_client is None:
                await client.aclose()
        self.posted.append(Posted(update, answer.status_code))
        return answer

    def schedule_update(self, update: dict[str, Any]) -> None:
        """Post `update` in the background (await `flush()` to see it delivered)."""
        self._tasks.append(asyncio.create_task(self.post_update(update)))

    async def flush(self) -> None:
        """Wait until every update scheduled so far has been posted."""
        pending, self._tasks = self._tasks, []
        await asyncio.gather(*pending)
