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
