"""The local Textlocal and Exotel SMS fakes answer as the providers document (providers.md
§1.e, §4)."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from sahaya.channels.exotel import sms_fake
from sahaya.channels.exotel.sms_fake import FakeExotelSms, matches_dlt_template, status_form
from sahaya.channels.textlocal import fake as textlocal_fake
from sahaya.channels.textlocal.fake import IST, FakeTextlocal, inbound_form, receipt_form

FIXTURES = Path(__file__).parents[1] / "fixtures" / "providers"
APIKEY = "tl-key-1"
ANJALI = "919847012345"
MESSAGE = "Your complaint 8812 is registered. - Apna Foods"
SID, KEY, TOKEN = "apnafoods1", "exo-key-1", "exo-token-1"
EXO_URL = f"/v1/Accounts/{SID}/Sms/send.json"
TEMPLATE = "Your complaint {#var#} is registered. - Apna Foods"


def load(path: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / path).read_text())
    return loaded


def form_fixture(path: str) -> dict[str, str]:
    return dict(parse_qsl((FIXTURES / path).read_text().strip(), keep_blank_values=True))


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


class Target:
    """A tiny app standing in for Sahaya's webhook endpoints; records each form it gets."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.received: list[tuple[str, dict[str, str]]] = []
        self.app = Starlette(routes=[Route("/{path:path}", self.hook, methods=["POST"])])

    async def hook(self, request: Request) -> PlainTextResponse:
        assert request.headers["content-type"] == "application/x-www-form-urlencoded"
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        self.received.append((request.url.path, form))
        return PlainTextResponse("ok", self.status)


@pytest.fixture
def target() -> Target:
    return Target()


@pytest.fixture
async def hooks(target: Target) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=target.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sahaya.test") as client:
        yield client


@pytest.fixture
def textlocal(hooks: httpx.AsyncClient) -> FakeTextlocal:
    return FakeTextlocal(APIKEY, receipt_client=hooks)


@pytest.fixture
async def tl_api(textlocal: FakeTextlocal) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=textlocal.app)
    async with httpx.AsyncClient(transport=transport, base_url="https://api.textlocal.in") as c:
        yield c


def send_form(**overrides: str) -> dict[str, str]:
    form = {"apikey": APIKEY, "sender": "APNAFD", "numbers": ANJALI, "message": MESSAGE}
    form.update(overrides)
    return form


# --- Textlocal ------------------------------------------------------------------------------


async def test_textlocal_success_has_the_documented_shape(
    textlocal: FakeTextlocal, tl_api: httpx.AsyncClient
) -> None:
    answer = await tl_api.post("/send/", data=send_form(custom="ticket-8812"))
    assert answer.status_code == 200
    body = answer.json()
    assert list(body) == list(load("textlocal/send-success.json"))
    assert body["status"] == "success"
    assert (body["cost"], body["num_messages"], body["balance"]) == (1, 1, 999)
    assert body["message"] == {"num_parts": 1, "sender": "APNAFD", "content": MESSAGE}
    assert body["custom"] == "ticket-8812"
    [message] = body["messages"]
    assert message["recipient"] == 919847012345
    assert isinstance(message["id"], str)
    assert message["id"].isdigit()
    [sent] = textlocal.sent
    assert (sent.numbers, sent.message, sent.sender, sent.custom) == (
        [ANJALI],
        MESSAGE,
        "APNAFD",
        "ticket-8812",
    )
    assert (sent.message_ids, sent.batch_id) == ([message["id"]], body["batch_id"])


async def test_textlocal_takes_the_same_parameters_in_a_get_query(
    textlocal: FakeTextlocal, tl_api: httpx.AsyncClient
) -> None:
    answer = await tl_api.get("/send/", params=send_form())
    assert answer.json()["status"] == "success"
    assert len(textlocal.sent) == 1


async def test_textlocal_malayalam_counts_unicode_parts(tl_api: httpx.AsyncClient) -> None:
    text = "നിങ്ങളുടെ പരാതി 8812 രജിസ്റ്റർ ചെയ്തു. " * 2  # 80 characters: two UCS-2 parts
    body = (await tl_api.post("/send/", data=send_form(message=text, unicode="true"))).json()
    assert body["message"]["num_parts"] == 2
    assert body["message"]["content"] == text


async def test_textlocal_wrong_apikey_is_failure_code_3_with_http_200(
    textlocal: FakeTextlocal, tl_api: httpx.AsyncClient
) -> None:
    answer = await tl_api.post("/send/", data=send_form(apikey="nope"))
    assert answer.status_code == 200
    assert answer.json() == {
        "errors": [{"code": 3, "message": "Invalid login details"}],
        "status": "failure",
    }
    assert textlocal.sent == []


@pytest.mark.parametrize(
    ("overrides", "code", "message"),
    [
        ({"message": ""}, 5, "No message content"),
        ({"message": "x" * 767}, 6, "Message too long"),
        ({"sender": ""}, 44, "No sender name"),
        ({"sender": "TXTLCL"}, 43, "Invalid sender name"),
        ({"numbers": ""}, 4, "No recipients specified"),
    ],
)
async def test_textlocal_rejects_bad_sends_in_a_200_body(
    textlocal: FakeTextlocal,
    tl_api: httpx.AsyncClient,
    overrides: dict[str, str],
    code: int,
    message: str,
) -> None:
    answer = await tl_api.post("/send/", data=send_form(**overrides))
    assert answer.status_code == 200
    assert answer.json() == {"errors": [{"code": code, "message": message}], "status": "failure"}
    assert textlocal.sent == []


async def test_textlocal_invalid_numbers_are_warned_and_dropped(
    textlocal: FakeTextlocal, tl_api: httpx.AsyncClient
) -> None:
    mixed = (await tl_api.post("/send/", data=send_form(numbers=f"{ANJALI},+919846055501"))).json()
    assert mixed["status"] == "success"
    assert mixed["warnings"] == [
        {"code": 3, "message": "Invalid number", "numbers": "+919846055501"}
    ]
    assert [m["recipient"] for m in mixed["messages"]] == [919847012345]

    none = (await tl_api.post("/send/", data=send_form(numbers="98470123"))).json()
    assert none == load("textlocal/send-invalid-number.json")
    assert len(textlocal.sent) == 1


async def test_textlocal_fail_next_injects_codes_and_http_errors(
    textlocal: FakeTextlocal, tl_api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(textlocal_fake, "TIMEOUT_SECONDS", 0.0)
    textlocal.fail_next = [7, 503, "timeout"]
    credits = await tl_api.post("/send/", data=send_form())
    assert (credits.status_code, credits.json()) == (
        200,
        load("textlocal/send-failure-credits.json"),
    )
    unavailable = await tl_api.post("/send/", data=send_form())
    assert unavailable.status_code == 503
    assert unavailable.headers["content-type"].startswith("text/html")
    assert (await tl_api.post("/send/", data=send_form())).status_code == 504
    assert textlocal.sent == []
    assert (await tl_api.post("/send/", data=send_form())).json()["status"] == "success"


async def test_textlocal_out_of_credits_fails_with_code_7(
    textlocal: FakeTextlocal, tl_api: httpx.AsyncClient
) -> None:
    textlocal.balance = 1
    answer = await tl_api.post("/send/", data=send_form(numbers=f"{ANJALI},919846055501"))
    assert answer.json() == load("textlocal/send-failure-credits.json")


async def test_textlocal_receipts_are_posted_with_custom_id_after_flush(
    textlocal: FakeTextlocal, tl_api: httpx.AsyncClient, target: Target
) -> None:
    textlocal.receipts = {"919846055501": "U"}
    dlr = "http://sahaya.test/webhooks/textlocal/dlr?key=dlr-secret-1"
    form = send_form(numbers=f"{ANJALI},919846055501", custom="ticket-8812", receipt_url=dlr)
    assert (await tl_api.post("/send/", data=form)).json()["receipt_url"] == dlr
    await tl_api.post("/send/", data=form | {"test": "true", "custom": "dry-run"})
    await textlocal.flush()

    assert [path for path, _ in target.received] == ["/webhooks/textlocal/dlr"] * 2
    forms = sorted((f for _, f in target.received), key=lambda f: f["number"])
    assert [(f["number"], f["status"], f["customID"]) for f in forms] == [
        ("919846055501", "U", "ticket-8812"),
        (ANJALI, "D", "ticket-8812"),
    ]
    for f in forms:
        assert list(f) == list(form_fixture("textlocal/receipt-delivered.form"))
        datetime.strptime(f["datetime"], "%Y-%m-%d %H:%M:%S")  # noqa: DTZ007 — MySQL, naive
    assert [(p.url, p.status) for p in textlocal.posted] == [(dlr, 200), (dlr, 200)]
    assert [s.test for s in textlocal.sent] == [False, True]  # the test send: no receipts


async def test_textlocal_inbound_posts_the_documented_form(
    textlocal: FakeTextlocal, target: Target
) -> None:
    textlocal.inbound_url = "http://sahaya.test/webhooks/textlocal/inbound?key=in-secret-1"
    textlocal.balance = 1162
    answer = await textlocal.send_inbound(ANJALI, "APNA my order 4512 is late", keyword="APNA")
    assert answer.status_code == 200
    [(path, form)] = target.received
    assert path == "/webhooks/textlocal/inbound"
    assert form == form_fixture("textlocal/inbound.form")
    assert textlocal.posted[0].form == form


def test_textlocal_builders_reproduce_the_fixtures() -> None:
    when = datetime(2025, 3, 10, 19, 6, 12, tzinfo=IST)
    for name, number, status, custom in (
        ("receipt-delivered", ANJALI, "D", "ticket-8812"),
        ("receipt-undelivered", ANJALI, "U", "ticket-8812"),
        ("receipt-invalid", "919800000000", "I", "ticket-8813"),
    ):
        assert receipt_form(number, status, custom, when) == form_fixture(f"textlocal/{name}.form")
    malayalam = form_fixture("textlocal/inbound-malayalam.form")
    assert inbound_form(ANJALI, malayalam["content"], keyword="APNA", credits=1162) == malayalam
    assert malayalam["comments"] == "എന്റെ ഓർഡർ 4512 വൈകി, anjali.k@example.in"
    assert malayalam["email"] == "anjali.k@example.in"
    assert inbound_form(ANJALI, "where is 4512")["comments"] == "where is 4512"


# --- Exotel SMS -----------------------------------------------------------------------------


@pytest.fixture
def exotel(hooks: httpx.AsyncClient) -> FakeExotelSms:
    return FakeExotelSms(SID, KEY, TOKEN, dlt_templates={TEMPLATE}, status_client=hooks)


@pytest.fixture
async def exo_api(exotel: FakeExotelSms) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=exotel.app)
    async with httpx.AsyncClient(transport=transport, base_url="https://api.in.exotel.com") as c:
        yield c


def sms(**overrides: str) -> dict[str, str]:
    form = {"From": "APNAFD", "To": "09847012345", "Body": MESSAGE, "EncodingType": "plain"}
    form.update(overrides)
    return form


async def test_exotel_sms_needs_basic_auth(
    exotel: FakeExotelSms, exo_api: httpx.AsyncClient
) -> None:
    for headers in (basic(KEY, "wrong"), {}):
        answer = await exo_api.post(EXO_URL, data=sms(), headers=headers)
        assert answer.status_code == 401
        assert answer.json() == {
            "RestException": {"Status": 401, "Message": "Authentication failed"}
        }
    assert exotel.sent == []


async def test_exotel_sms_success_has_the_documented_shape(
    exotel: FakeExotelSms, exo_api: httpx.AsyncClient
) -> None:
    answer = await exo_api.post(EXO_URL, data=sms(), headers=basic(KEY, TOKEN))
    assert answer.status_code == 200
    message = answer.json()["SMSMessage"]
    assert list(message) == list(load("exotel/sms-send-response.json")["SMSMessage"])
    sid = message["Sid"]
    assert len(sid) == 32
    int(sid, 16)
    assert (message["AccountSid"], message["From"], message["To"]) == (
        SID,
        "APNAFD",
        "+919847012345",
    )
    assert (message["Status"], message["DateSent"], message["Price"]) == ("queued", None, None)
    assert message["Uri"] == f"/v1/Accounts/{SID}/SMS/Messages/{sid}.json"
    assert (message["DetailedStatus"], message["DetailedStatusCode"]) == (
        "PENDING_TO_OPERATOR",
        21010,
    )
    assert [(s.sid, s.to, s.form["Body"]) for s in exotel.sent] == [(sid, "+919847012345", MESSAGE)]


@pytest.mark.parametrize("to", ["09847012345", "9847012345", "+919847012345"])
async def test_exotel_sms_takes_the_indian_number_forms(
    exo_api: httpx.AsyncClient, to: str
) -> None:
    answer = await exo_api.post(EXO_URL, data=sms(To=to), headers=basic(KEY, TOKEN))
    assert answer.json()["SMSMessage"]["To"] == "+919847012345"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"Body": "Your order 4512 is out for delivery."}, "Body does not match any"),
        ({"From": "TXTLCL"}, "From is not a valid ExoPhone or sender id"),
        ({"To": "919847012345"}, "To is not a valid phone number"),
        ({"Body": ""}, "Missing parameter(s): Body"),
        ({"EncodingType": "utf8"}, "EncodingType must be one of"),
    ],
)
async def test_exotel_sms_rejects_with_400(
    exotel: FakeExotelSms, exo_api: httpx.AsyncClient, overrides: dict[str, str], message: str
) -> None:
    answer = await exo_api.post(EXO_URL, data=sms(**overrides), headers=basic(KEY, TOKEN))
    assert answer.status_code == 400
    assert answer.json()["RestException"]["Status"] == 400
    assert answer.json()["RestException"]["Message"].startswith(message)
    assert exotel.sent == []


async def test_exotel_sms_accepts_the_exophone_as_from(exo_api: httpx.AsyncClient) -> None:
    answer = await exo_api.post(EXO_URL, data=sms(From="+914842000000"), headers=basic(KEY, TOKEN))
    assert answer.status_code == 200


async def test_each_text_goes_out_under_its_own_dlt_template_id(
    exotel: FakeExotelSms, exo_api: httpx.AsyncClient
) -> None:
    """An acknowledgement and a sign-in code are different registered texts: the adapter
    names each one's template, and the account's single id covers the rest."""
    import uuid

    from sahaya.channels.exotel import sms as exotel_sms
    from sahaya.messaging.accounts import ChannelAccount
    from sahaya.messaging.domain import Channel
    from sahaya.messaging.ports import OutboundMessage

    account = ChannelAccount(
        id=uuid.uuid4(),
        tenant_id=uuid.uuid4(),
        channel=Channel.SMS,
        provider=exotel_sms.PROVIDER,
        name="sms",
        address="APNAFD",
        api_base_url="https://api.in.exotel.com",
        settings={
            "account_sid": SID,
            "dlt_templates": {"ticket_acknowledgement": "1107160000000000001"},
            "dlt_template_id": "1107160000000000009",
        },
        secrets={"api_key": KEY, "api_token": TOKEN},
    )
    for template in ("ticket_acknowledgement", "agent_reply"):
        message = OutboundMessage(
            id=uuid.uuid4(),
            channel=Channel.SMS,
            recipient="+919847012345",
            subject="",
            body=MESSAGE,
            template=template,
            language="en",
            reference="AF-008812",
        )
        await exotel_sms.send(account, message, exo_api)
    assert [s.form["DltTemplateId"] for s in exotel.sent] == [
        "1107160000000000001",
        "1107160000000000009",
    ]


def test_dlt_templates_match_variables_of_up_to_30_characters() -> None:
    assert matches_dlt_template(MESSAGE, {TEMPLATE})
    assert matches_dlt_template(
        "Your complaint A-8812/2025 is registered. - Apna Foods", [TEMPLATE]
    )
    assert not matches_dlt_template(
        f"Your complaint {'9' * 31} is registered. - Apna Foods", [TEMPLATE]
    )
    assert not matches_dlt_template(MESSAGE + " Thanks", [TEMPLATE])
    assert matches_dlt_template("OTP 1234 for order 4512", ["OTP {#numeric#} for order {#var#}"])


async def test_exotel_sms_status_callbacks_are_form_posts(
    exotel: FakeExotelSms, exo_api: httpx.AsyncClient, target: Target
) -> None:
    exotel.statuses = {"9846055501": "failed_dnd"}
    callback = "http://sahaya.test/webhooks/exotel/sms-status?key=exo-secret-1"
    first = await exo_api.post(
        EXO_URL,
        data=sms(StatusCallback=callback, CustomField="ticket-8812"),
        headers=basic(KEY, TOKEN),
    )
    second = await exo_api.post(
        EXO_URL, data=sms(To="09846055501", StatusCallback=callback), headers=basic(KEY, TOKEN)
    )
    await exo_api.post(EXO_URL, data=sms(), headers=basic(KEY, TOKEN))  # no callback asked
    await exotel.flush()

    assert [path for path, _ in target.received] == ["/webhooks/exotel/sms-status"] * 2
    by_sid = {form["SmsSid"]: form for _, form in target.received}
    sent = by_sid[first.json()["SMSMessage"]["Sid"]]
    failed = by_sid[second.json()["SMSMessage"]["Sid"]]
    assert list(sent) == list(form_fixture("exotel/sms-status-sent.form"))
    assert list(failed) == list(form_fixture("exotel/sms-status-failed-dnd.form"))
    assert (sent["To"], sent["Status"], sent["DetailedStatus"], sent["DetailedStatusCode"]) == (
        "+919847012345",
        "sent",
        "DELIVERED_TO_HANDSET",
        "20005",
    )
    assert (sent["SmsUnits"], sent["CustomField"]) == ("1", "ticket-8812")
    assert (failed["To"], failed["Status"], failed["DetailedStatus"]) == (
        "+919846055501",
        "failed_dnd",
        "FAILED_DND",
    )
    assert sorted(p.status for p in exotel.posted) == [200, 200]


async def test_exotel_sms_fail_next_and_xml_without_the_suffix(
    exotel: FakeExotelSms, exo_api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sms_fake, "TIMEOUT_SECONDS", 0.0)
    exotel.fail_next = [503, "timeout"]
    answer = await exo_api.post(EXO_URL, data=sms(), headers=basic(KEY, TOKEN))
    assert (answer.status_code, answer.json()["RestException"]["Status"]) == (503, 503)
    assert (await exo_api.post(EXO_URL, data=sms(), headers=basic(KEY, TOKEN))).status_code == 504
    assert exotel.sent == []
    xml = await exo_api.post(EXO_URL.removesuffix(".json"), data=sms(), headers=basic(KEY, TOKEN))
    assert xml.status_code == 200
    assert xml.headers["content-type"].startswith("application/xml")
    assert "<SMSMessage><Sid>" in xml.text
    assert "<Status>queued</Status>" in xml.text


def test_exotel_status_form_reproduces_the_fixtures() -> None:
    when = datetime(2025, 3, 10, 19, 6, 12, tzinfo=IST)
    sid = "0b6c6a98f32682862ce6edf1bdab3526"
    sent = status_form(sid, "+919847012345", "sent", custom_field="ticket-8812", when=when)
    assert sent == form_fixture("exotel/sms-status-sent.form")
    failed = status_form(sid, "+919847012345", "failed_dnd", when=when)
    assert failed == form_fixture("exotel/sms-status-failed-dnd.form")
    unverified = load("exotel/sms-status-new-json.json")
    assert (unverified["DetailedStatus"], unverified["ExoStatusCode"]) == (
        "DELIVERED_TO_HANDSET",
        20005,
    )
