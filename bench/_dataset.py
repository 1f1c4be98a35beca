"""Synthetic customer CSVs for the benchmarks: unique, valid Indian mobiles written in the
formats people type, real Kerala taluks, and (optionally) a known number of bad rows so the
import's accounting can be checked exactly."""

from __future__ import annotations

import csv
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sahaya.demo.seed import FIRST, LAST, kerala
from sahaya.network.services import slugify

# 4-digit mobile prefixes whose every 10-digit completion matches phonenumbers' IN mobile
# pattern (checked by the benchmark before use); one million numbers per prefix.
PREFIXES = ("9847", "9846", "9895", "9446", "9447", "8547", "7025", "6282", "9995", "9961")
BLOCK = 1_000_000
_STRIDE = 7_919  # prime, coprime with 10**6: i -> (i * STRIDE + OFFSET) % 10**6 is a bijection
_OFFSET = 271_828


def national(i: int) -> str:
    """The i-th benchmark number (10 digits, no prefix); unique for 0 <= i < 10 million, and
    scattered so consecutive rows do not get neighbouring numbers."""
    prefix = PREFIXES[i // BLOCK]
    return f"{prefix}{(i % BLOCK * _STRIDE + _OFFSET) % BLOCK:06d}"


def e164(i: int) -> str:
    return "+91" + national(i)


def written(number: str, style: int) -> str:
    """`number` (10 national digits) in one of the ways people write Indian mobiles."""
    a, b = number[:5], number[5:]
    forms = (
        f"0{number}",
        f"+91 {a} {b}",
        f"91{number}",
        number,
        f"+91-{a}-{b}",
        f"+91{number}",
        f"(+91) {a} {b}",
        f"0091 {a} {b}",  # not the fast path: goes through the full phonenumbers parser
    )
    weights_index = (0, 0, 1, 1, 2, 2, 3, 3, 4, 5, 6, 7)
    return forms[weights_index[style % len(weights_index)]]


def lookup_forms(number: str) -> list[str]:
    """The formats the lookup benchmark asks for (URL-encoded by the caller)."""
    a, b = number[:5], number[5:]
    return [f"0{number}", f"+91 {a} {b}", f"91{number}", f"+91{number}"]


@dataclass(frozen=True, slots=True)
class Taluk:
    district: str
    name: str
    path: str


def taluks() -> list[Taluk]:
    found = []
    for district, names in kerala().items():
        for name in names:
            found.append(Taluk(district, name, f"kerala/{slugify(district)}/{slugify(name)}"))
    return found


@dataclass
class Expected:
    rows: int = 0
    good: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    by_path: Counter[str] = field(default_factory=Counter)

    @property
    def bad(self) -> int:
        return sum(self.rejected.values())


def write_customers_csv(
    path: Path, rows: int, *, bad_fraction: float = 0.0, seed: int = 20261123
) -> Expected:
    """Write `rows` customers to `path`. With `bad_fraction` > 0, about that share of rows are
    bad, split evenly between invalid phones, unknown taluks and in-file duplicates (a number
    that an earlier row already used, written differently). Returns what an import of the
    file must report."""
    if rows > BLOCK * len(PREFIXES):
        raise ValueError(f"at most {BLOCK * len(PREFIXES):,} rows")
    rng = random.Random(seed)
    places = taluks()
    names = Counter(t.name.casefold() for t in places)
    expected = Expected(rows=rows)
    bad_phones = ("12345", "98470 1234", "555-0100", "00000", "9847", "not a phone")
    next_number = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["name", "phone", "email", "district", "sub_district", "language"])
        for line in range(rows):
            place = places[rng.randrange(len(places))]
            name = f"{FIRST[rng.randrange(len(FIRST))]} {LAST[rng.randrange(len(LAST))]}"
            roll = rng.random()
            kind = "good"
            if bad_fraction and roll < bad_fraction and next_number > 0:
                kind = ("phone", "sub_district", "duplicate")[line % 3]
            if kind == "duplicate":
                number = national(rng.randrange(next_number))
            else:
                number = national(next_number)
            phone = written(number, rng.randrange(1_000))
            district, sub_district = place.district, place.name
            shape = rng.random()
            if shape < 0.05:
                district, sub_district = "", place.path
            elif shape < 0.25 and names[place.name.casefold()] == 1:
                district = ""
            if kind == "phone":
                phone = bad_phones[line % len(bad_phones)]
            elif kind == "sub_district":
                district, sub_district = place.district, "Atlantis"
            email = f"{name.split()[0].lower()}.{line}@example.in" if shape > 0.7 else ""
            language = ("en", "ml", "", "Malayalam", "English", "ML")[line % 6]
            out.writerow([name, phone, email, district, sub_district, language])
            if kind == "good":
                next_number += 1
                expected.good += 1
                expected.by_path[place.path] += 1
            else:
                expected.rejected[kind] += 1
    return expected
