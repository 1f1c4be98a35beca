"""`sahaya run` (what `make run` calls): embedded PostgreSQL, migrations, demo data once,
web server and worker; Ctrl-C stops everything and the next run keeps the data."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.timeout(180)
DRAINS: dict[int, threading.Thread] = {}


def start(var: Path, port: int) -> tuple[subprocess.Popen[str], list[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAHAYA_")}
    env |= {"SAHAYA_VAR_DIR": str(var), "SAHAYA_PORT": str(port), "SAHAYA_LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(
        [sys.executable, "-m", "sahaya", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    assert process.stdout is not None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip())
        if line.startswith("Press Ctrl-C"):
            # Keep draining so a chatty child never blocks on a full pipe.
            drain = threading.Thread(target=lines.extend, args=(process.stdout,), daemon=True)
            drain.start()
            DRAINS[process.pid] = drain
            return process, lines
    process.kill()
    pytest.fail("sahaya run did not come up:\n" + "\n".join(lines))


def stop(process: subprocess.Popen[str], how: signal.Signals = signal.SIGINT) -> int:
    process.send_signal(how)
    code = process.wait(timeout=60)
    DRAINS.pop(process.pid).join(timeout=10)  # end of file once every child has exited
    assert process.stdout is not None
    process.stdout.close()
    return code


def logins(lines: list[str]) -> dict[str, str]:
    pattern = re.compile(r"^\s+(\S+)\s+(\S+)\s+(admin|supervisor|agent)\s+(\S+)$")
    return {m.group(1): m.group(2) for line in lines if (m := pattern.match(line))}


def simulate(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`sahaya simulate message …` against the running demo; fails the test on an error."""
    done = subprocess.run(  # noqa: S603 - our own command line
        [sys.executable, "-m", "sahaya", "simulate", "message", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def demo_channels_work(var: Path, port: int) -> None:
    """The demo's sandboxes: a simulated WhatsApp message opens a ticket, an SMS and a
    Telegram message (once the chat is linked by a shared contact) thread into it, and the
    app's SMS sign-in code is sent by the worker through the Textlocal sandbox."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAHAYA_")}
    env |= {"SAHAYA_VAR_DIR": str(var), "SAHAYA_PORT": str(port)}
    simulated = simulate(env, "--from", "09847012345", "late")
    assert re.search(r"ticket_opened — ticket AF-\d{6}", simulated.stdout)
    by_sms = simulate(env, "--channel", "sms", "--from", "9847012345", "still late")
    assert re.search(r"threaded — ticket AF-\d{6}", by_sms.stdout)
    by_telegram = simulate(env, "--channel", "telegram", "--from", "9847012345", "any news?")
    # An unknown chat until the customer shares their own contact; then it threads.
    assert by_telegram.stdout.splitlines()[:3] == [
        "unknown_sender",
        "the customer shares their contact with the bot",
        "linked",
    ], by_telegram.stdout
    assert re.search(r"threaded — ticket AF-\d{6}", by_telegram.stdout)
    again = simulate(env, "--channel", "telegram", "--from", "9847012345", "thanks")
    assert re.fullmatch(r"threaded — ticket AF-\d{6}\n", again.stdout), again.stdout
    base = f"http://127.0.0.1:{port}"
    asked = httpx.post(f"{base}/api/v1/app/sign-in/code", json={"phone": "09847012345"})
    assert asked.status_code == 202
    deadline = time.monotonic() + 20
    code = None
    while code is None and time.monotonic() < deadline:
        sent = httpx.get(f"{base}/sandbox/textlocal/messages").json()
        found = re.search(r"\b(\d{6})\b", sent[0]["message"]) if sent else None
        code = found.group(1) if found else None
        time.sleep(0.2)
    assert code is not None, "the worker sent no sign-in code"
    signed = httpx.post(f"{base}/api/v1/app/sign-in", json={"phone": "9847012345", "code": code})
    assert signed.status_code == 200, signed.text


def test_run_serves_the_demo_and_keeps_data_across_restarts(tmp_path: Path) -> None:
    var, port = tmp_path / "var", free_port()
    process, lines = start(var, port)
    try:
        assert f"Sahaya is running: http://127.0.0.1:{port}" in "\n".join(lines)
        creds = logins(lines)
        assert set(creds) == {"admin", "ekm.supervisor", "kochi.agent", "tvm.agent"}
        base = f"http://127.0.0.1:{port}"
        token = httpx.post(
            f"{base}/api/v1/auth/login",
            json={"username": "kochi.agent", "password": creds["kochi.agent"]},
        ).json()["token"]
        found = httpx.get(
            f"{base}/api/v1/customers/lookup",
            params={"phone": "+91 98470 12345"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert found.status_code == 200
        assert found.json()["name"] == "Anjali K"
        assert httpx.get(f"{base}/metrics").text.count("sahaya_http_requests_total") > 0
        demo_channels_work(var, port)
    finally:
        code = stop(process)
    assert code == 0
    assert not (var / "pgdata" / "postmaster.pid").exists(), "PostgreSQL left running"
    assert "Traceback" not in "\n".join(lines), "\n".join(lines)

    again, lines_again = start(var, port)
    try:
        assert logins(lines_again) == creds  # seeded once, same demo logins
        login = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/auth/login",
            json={"username": "admin", "password": creds["admin"]},
        )
        assert login.status_code == 200
    finally:
        assert stop(again, signal.SIGTERM) == 0  # `kill` is as clean as Ctrl-C
    assert not (var / "pgdata" / "postmaster.pid").exists()
    assert "Traceback" not in "\n".join(lines_again), "\n".join(lines_again)
