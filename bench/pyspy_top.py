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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--grep", help="only count stacks containing this text")
    args = parser.parse_args()

    own: Counter[str] = Counter()
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
            ["incl %", "function (file)"],
            [(f"{100 * n / total:.1f}", name) for name, n in inclusive.most_common(args.top)],
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
