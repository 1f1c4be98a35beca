"""Summarise a `py-spy record --format raw` profile (collapsed stacks) as two tables:
functions by own time (the leaf frame) and by inclusive time (anywhere on the stack).

    .venv/bin/python bench/pyspy_top.py bench/out/import_csv.pyspy.txt [--top 25] [--grep X]
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

from _common import table

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>.*?)(?::(?P<line>\d+))?\)$")


def short(frame: str) -> str:
    match = _FRAME.match(frame)
    if match is None:
        return frame
    path = match.group("file")
    for marker in ("site-packages/", "src/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{match.group('func')} ({path})"


STDLIB = {"asyncio", "threading", "contextlib", "inspect", "typing", "weakref", "enum", "abc"}


def package(frame: str) -> str:
    """`sqlalchemy`, `psycopg`, `fastapi`, `sahaya`, `stdlib:asyncio`, … for a raw frame.
    py-spy writes paths relative to sys.path entries, e.g. `psycopg/_cursor_base.py`."""
    match = _FRAME.match(frame)
    path = match.group("file") if match else frame
    for marker in ("site-packages/", "/src/", "/lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    top = path.split("/", 1)[0].removesuffix(".py")
    if top.startswith("<frozen"):
        return "stdlib"
    return f"stdlib:{top}" if top in STDLIB else top


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--grep", help="only count stacks containing this text")
    parser.add_argument("--thread-pool", action="store_true", help="show thread-pool share")
    args = parser.parse_args()

    own: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    pool = 0
    inclusive: Counter[str] = Counter()
    total = 0
    for line in args.profile.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        if args.grep and args.grep not in stack:
            continue
        count = int(count_text)
        frames = [short(f) for f in stack.split(";")]
        total += count
        own[frames[-1]] += count
        packages[package(stack.split(";")[-1])] += count
        if "threading.py" in stack.split(";")[0] or "_bootstrap" in stack.split(";")[0]:
            pool += count
        for name in set(frames):
            inclusive[name] += count
    if not total:
        print("no samples", file=sys.stderr)
        return 1
    print(f"{total:,} samples" + (f" containing {args.grep!r}" if args.grep else ""))
    print()
    print(
        table(
            ["own %", "function (file)"],
            [(f"{100 * n / total:.1f}", name) for name, n in own.most_common(args.top)],
        )
    )
    print()
    print(
        table(
            ["own %", "package (where the leaf frame is)"],
            [(f"{100 * n / total:.1f}", name) for name, n in packages.most_common(args.top)],
        )
    )
    print()
    print(f"samples in non-main threads (thread pool): {100 * pool / total:.1f} %")
    print()
    print(
        table(
            ["incl %", "function (file)"],
            [(f"{100 * n / total:.1f}", name) for name, n in inclusive.most_common(args.top)],
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
