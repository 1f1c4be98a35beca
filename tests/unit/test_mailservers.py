"""The private Dovecot of tests/mailservers.py is a real IMAP server the poller can rely on."""

from __future__ import annotations

import imaplib
from collections.abc import Iterator
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import SMTP

import pytest

from tests import mailservers
from tests.mailservers import Dovecot

USER = "support@sahaya.test"
PASSWORD = "s3cret pw"


def _message(subject: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Asha <asha@example.in>"
    msg["To"] = USER
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{subject.replace(' ', '-')}@example.in>"
    msg.set_content(f"Body of {subject}.\n")
    return msg.as_bytes(policy=SMTP)


@pytest.fixture(scope="module")
def dovecot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dovecot]:
    with Dovecot.start(tmp_path_factory.mktemp("dovecot"), users={USER: PASSWORD}) as server:
        yield server


def test_append_search_and_fetch(dovecot: Dovecot) -> None:
    dovecot.add_user("billing@sahaya.test", "other")
    first = dovecot.deliver("billing@sahaya.test", _message("Router down"))
    second = dovecot.deliver("billing@sahaya.test", _message("No dial tone"))
    assert second > first

    imap = imaplib.IMAP4(dovecot.host, dovecot.port, timeout=10)
    try:
        assert imap.login("billing@sahaya.test", "other")[0] == "OK"
        status, count = imap.select("INBOX")
        assert (status, count) == ("OK", [b"2"])
        status, found = imap.search(None, "ALL")
        assert status == "OK"
        assert found[0].split() == [b"1", b"2"]
        status, fetched = imap.fetch("2", "(BODY.PEEK[])")
        assert status == "OK"
        assert isinstance(fetched[0], tuple)
        assert message_from_bytes(fetched[0][1])["Subject"] == "No dial tone"
    finally:
        imap.logout()

    raw = dovecot.messages("billing@sahaya.test")
    assert [message_from_bytes(m)["Subject"] for m in raw] == ["Router down", "No dial tone"]


def test_wrong_password_is_refused(dovecot: Dovecot) -> None:
    imap = imaplib.IMAP4(dovecot.host, dovecot.port, timeout=10)
    try:
        with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
            imap.login(USER, "not the password")
    finally:
        imap.shutdown()


def test_uid_store_seen(dovecot: Dovecot) -> None:
    uid = dovecot.deliver(USER, _message("Mark me read"), mailbox="Support/Queue")
    other = dovecot.deliver(USER, _message("Leave me unread"), mailbox="Support/Queue")
    assert dovecot.flags(USER, "Support/Queue") == {uid: set(), other: set()}

    with dovecot.imap(USER) as imap:
        assert imap.select('"Support/Queue"')[0] == "OK"
        status, unseen = imap.uid("SEARCH", "UNSEEN")
        assert status == "OK"
        assert [int(u) for u in unseen[0].split()] == [uid, other]
        status, _ = imap.uid("STORE", str(uid), "+FLAGS", r"(\Seen)")
        assert status == "OK"
        status, unseen = imap.uid("SEARCH", "UNSEEN")
        assert [int(u) for u in unseen[0].split()] == [other]

    assert dovecot.flags(USER, "Support/Queue") == {uid: {r"\Seen"}, other: set()}
    assert len(dovecot.messages(USER, "Support/Queue")) == 2
    assert dovecot.flags(USER, "Support/Queue")[other] == set()  # messages() only peeks


def test_missing_dovecot_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda *_args, **_kwargs: None)
    with pytest.raises(RuntimeError, match=r"run `make test` \(it installs dovecot-imapd\)"):
        mailservers.dovecot_binary()
