"""Benchmark: time from launching `sahaya run` (what `make run` calls) to GET /healthz → 200.

Cold: a new, empty SAHAYA_VAR_DIR (initdb, CREATE DATABASE, migrations, demo seed, then the
web server and the worker). Warm: the same folder again, data kept. Each run uses a
temporary SAHAYA_VAR_DIR and a free SAHAYA_PORT, so ./var and port 8000 are never touched.
After /healthz answers (and `run` has printed its banner) the whole process group gets
SIGINT, as Ctrl-C in a terminal would; the run must exit with code 0 within 30 s and leave
no process behind (no postgres for that pgdata, no `serve`/`worker` child).

    .venv/bin/python bench/startup.py                 # 3 cold + 5 warm runs
    .venv/bin/python bench/startup.py --via make      # through `make run` (see README)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
import psutil

from _common import (
    BIN,
    OUT,
    REPO,
    SAHAYA,
    clean_env,
    code_line,
    code_version,
    free_port,
    log,
    median,
    postmaster_of,
    restore_sigint,
    table,
)

TARGET_WARM = 10.0
PG_READY = "PostgreSQL accepting connections (postmaster.pid: ready)"
MARKERS = (
    ("created database", "database `sahaya` created (cold only)"),
    ("worker started", "worker process started (after migrate + seed)"),
)


@dataclass
class Run:
    kind: str
    healthy_s: float = float("nan")
    banner_s: float = float("nan")
    stop_s: float = float("nan")
    exit_code: int | None = None
    leftovers: list[str] = field(default_factory=list)
    tracebacks: int = 0
    markers: dict[str, float] = field(default_factory=dict)
    error: str = ""


def postmaster_ready(pid_file: Path) -> bool:
    try:
        return pid_file.read_text().rstrip().splitlines()[-1].strip() == "ready"
    except (OSError, IndexError):
        return False


def leftovers(var_dir: Path) -> list[str]:
    """Processes still alive that belong to this run: postgres for its pgdata, or anything
    started with its SAHAYA_VAR_DIR in the environment."""
    found = []
    master = postmaster_of(var_dir.resolve() / "pgdata")
    if master is not None:
        found.append(f"postmaster pid {master.pid}")
    for proc in psutil.process_iter(["pid", "name", "cmdline"]):
        with contextlib.suppress(psutil.Error):
            if proc.environ().get("SAHAYA_VAR_DIR") == str(var_dir):
                found.append(f"{proc.pid} {' '.join(proc.info['cmdline'] or [])[:80]}")
    return found


def kill_leftovers(var_dir: Path) -> None:
    for proc in psutil.process_iter(["pid"]):
        with contextlib.suppress(psutil.Error):
            if proc.environ().get("SAHAYA_VAR_DIR") == str(var_dir):
                proc.kill()
    master = postmaster_of(var_dir.resolve() / "pgdata")
    if master is not None:
        master.kill()


def one_run(kind: str, var_dir: Path, args: argparse.Namespace) -> Run:
    run = Run(kind=kind)
    port = free_port()
    env = clean_env(SAHAYA_VAR_DIR=str(var_dir), SAHAYA_PORT=str(port), SAHAYA_HOST="127.0.0.1")
    command = (
        ["make", "--no-print-directory", "run"] if args.via == "make" else [str(SAHAYA), "run"]
    )
    log_path = OUT / f"startup-{kind}.log"
    lines: list[tuple[float, str]] = []
    started = time.perf_counter()
    proc = subprocess.Popen(
        command,
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, like a terminal's foreground job
    )
    assert proc.stdout is not None
    banner = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            text = raw.decode(errors="replace").rstrip()
            lines.append((time.perf_counter() - started, text))
            if "Sahaya is running" in text:
                banner.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    url = f"http://127.0.0.1:{port}/healthz"
    pid_file = var_dir / "pgdata" / "postmaster.pid"
    try:
        with httpx.Client(timeout=1.0) as client:
            while True:
                elapsed = time.perf_counter() - started
                if proc.poll() is not None:
                    raise RuntimeError(f"`run` exited with {proc.returncode} before /healthz")
                if elapsed > args.timeout:
                    raise TimeoutError(f"/healthz not 200 after {args.timeout:.0f}s")
                if PG_READY not in run.markers and postmaster_ready(pid_file):
                    run.markers[PG_READY] = elapsed
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(url).status_code == 200:
                        run.healthy_s = time.perf_counter() - started
                        break
                time.sleep(0.01)
        if banner.wait(timeout=15):
            run.banner_s = next(t for t, x in lines if "Sahaya is running" in x)
        stopping = time.perf_counter()
        if args.signal == "group":
            os.killpg(proc.pid, signal.SIGINT)
        else:
            proc.send_signal(signal.SIGINT)
        try:
            run.exit_code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            run.error = "did not exit within 30 s of SIGINT"
            os.killpg(proc.pid, signal.SIGKILL)
            run.exit_code = proc.wait(timeout=10)
        run.stop_s = time.perf_counter() - stopping
    except (RuntimeError, TimeoutError) as exc:
        run.error = str(exc)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    reader.join(timeout=5)
    deadline = time.monotonic() + 5
    while (found := leftovers(var_dir)) and time.monotonic() < deadline:
        time.sleep(0.2)
    run.leftovers = found
    if found:
        kill_leftovers(var_dir)
    # One report per error: chained exceptions print several "Traceback" headers.
    texts = [x for _, x in lines]
    run.tracebacks = sum("Traceback (most recent call last)" in x for x in texts) - sum(
        "During handling of the above exception" in x or "The above exception was the direct" in x
        for x in texts
    )
    for needle, label in MARKERS:
        hit = next((t for t, x in lines if needle in x), None)
        if hit is not None:
            run.markers[label] = hit
    log_path.write_text("\n".join(f"{t:8.3f}  {x}" for t, x in lines) + "\n")
    log(
        f"{kind}: /healthz 200 after {run.healthy_s:.2f}s, stopped in {run.stop_s:.2f}s, "
        f"exit {run.exit_code}, leftovers {found or 'none'}"
        + (f", ERROR {run.error}" if run.error else "")
    )
    return run


def import_cost(module: str, repeat: int = 5) -> float:
    """Median seconds for a fresh interpreter to import `module` (and exit)."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run([str(BIN / "python"), "-c", f"import {module}"], check=True, cwd=REPO)
        times.append(time.perf_counter() - started)
    return median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cold", type=int, default=3, help="cold runs (new var dir each)")
    parser.add_argument("--warm", type=int, default=5, help="warm runs (var dir kept)")
    parser.add_argument("--via", choices=("sahaya", "make"), default="sahaya")
    parser.add_argument("--signal", choices=("group", "parent"), default="group")
    parser.add_argument("--timeout", type=float, default=180.0)
    args = parser.parse_args()
    restore_sigint()
    measured = code_version()
    if args.via == "make":
        dry = subprocess.run(
            ["make", "-n", "run"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout
        if "pip install" in dry:
            log("`make run` would (re)install the venv first; run `make install` and retry")
            return 1
    OUT.mkdir(parents=True, exist_ok=True)
    roots: list[Path] = []
    runs: list[Run] = []
    try:
        var_dir = None
        for i in range(max(1, args.cold)):
            root = Path(tempfile.mkdtemp(prefix="sahaya-bench-startup-"))
            root.chmod(0o755)
            roots.append(root)
            var_dir = root / "var"
            runs.append(one_run(f"cold{i + 1}", var_dir, args))
        assert var_dir is not None
        for i in range(args.warm):
            runs.append(one_run(f"warm{i + 1}", var_dir, args))
        imports = {
            "python -c 'import sys'": import_cost("sys"),
            "import sahaya.cli.main": import_cost("sahaya.cli.main"),
            "import sahaya.web.app": import_cost("sahaya.web.app"),
        }
    finally:
        for root in roots:
            kill_leftovers(root / "var")
            shutil.rmtree(root, ignore_errors=True)

    def med(kind: str, attr: str) -> float:
        return median([getattr(r, attr) for r in runs if r.kind.startswith(kind) and not r.error])

    print()
    print(f"## startup: `{'make run' if args.via == 'make' else 'sahaya run'}` → /healthz 200")
    print(code_line(measured))
    print()
    print(
        table(
            [
                "run",
                "/healthz 200 (s)",
                "banner (s)",
                "stop (s)",
                "exit",
                "leftovers",
                "error reports in output",
                "error",
            ],
            [
                (
                    r.kind,
                    r.healthy_s,
                    r.banner_s,
                    r.stop_s,
                    r.exit_code,
                    len(r.leftovers),
                    r.tracebacks,
                    r.error or "-",
                )
                for r in runs
            ],
        )
    )
    print()
    cold, warm = med("cold", "healthy_s"), med("warm", "healthy_s")
    print(
        table(
            ["figure", "median (s)", "target"],
            [
                ("cold start → /healthz 200", cold, ""),
                ("warm start → /healthz 200", warm, f"≤ {TARGET_WARM:.0f}"),
                ("stop after SIGINT (warm)", med("warm", "stop_s"), ""),
            ],
        )
    )
    print()
    labels = [PG_READY, *(label for _, label in MARKERS)]
    print(
        table(
            ["phase marker (s since launch)", "cold (median)", "warm (median)"],
            [
                (
                    label,
                    median(
                        [
                            r.markers[label]
                            for r in runs
                            if r.kind[:4] == "cold" and label in r.markers
                        ]
                    ),
                    median(
                        [
                            r.markers[label]
                            for r in runs
                            if r.kind[:4] == "warm" and label in r.markers
                        ]
                    ),
                )
                for label in labels
            ]
            + [("/healthz 200", cold, warm)],
        )
    )
    print()
    print(table(["fresh interpreter", "median (s)"], list(imports.items())))
    ok = all(not r.error and r.exit_code == 0 and not r.leftovers for r in runs)
    print()
    print(
        "verdict:",
        ("warm start meets" if warm <= TARGET_WARM else "warm start MISSES")
        + f" the {TARGET_WARM:.0f} s target; "
        + ("every run exited 0 with nothing left behind" if ok else "SOME RUNS FAILED (see above)")
        + (
            f"; {sum(r.tracebacks > 0 for r in runs)} of {len(runs)} runs printed an error"
            " traceback while stopping (see bench/out/startup-*.log)"
            if any(r.tracebacks for r in runs)
            else ""
        ),
    )
    (OUT / "startup.json").write_text(
        json.dumps({"runs": [asdict(r) for r in runs], "imports": imports}, indent=2)
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
