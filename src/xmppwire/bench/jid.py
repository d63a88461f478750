"""JID parsing speed: xmppwire's twins side by side with other XMPP libraries.

``rows()`` returns ``(name, jids_per_second)`` for every contender importable
here (slixmpp's ``JID``, aioxmpp's ``JID.fromstr`` and twisted's ``jid.JID``
come with the ``compare`` extra) and every workload: ASCII or non-ASCII full
JIDs, each either cold (every string new, as off the wire) or cached (a
working set of 1000 strings parsed over and over). ``python -m
xmppwire bench`` prints them after the stream table (``--jid-budget``).

Every contender parses the same strings in the same run; the best batch of
several is kept, so a stray pause elsewhere on the machine costs little.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import _impl

__all__ = ["CONTENDERS", "WORKLOADS", "Contender", "format_table", "main", "rows"]

_serial = itertools.count()


def _ascii_jids(count: int) -> list[str]:
    tag = next(_serial)
    return [f"user{i}.{tag}@host{i % 500}.example.com/res-{i:x}" for i in range(count)]


# (localpart, domain label, resourcepart) in the scripts a server meets most:
# Latin with diacritics, Greek, Cyrillic, CJK and Hangul, some capitalized.
_UNICODE_SAMPLES = (
    ("Jürgen", "münchen", "Bälcony"),
    ("σωκράτης", "ελλάδα", "Τηλέφωνο"),
    ("Дмитрий", "пример", "телефон"),
    ("张伟", "例子", "手机"),
    ("김민준", "한국", "모바일"),
)


def _unicode_jids(count: int) -> list[str]:
    tag = next(_serial)
    jids = []
    for i in range(count):
        local, domain, resource = _UNICODE_SAMPLES[i % len(_UNICODE_SAMPLES)]
        jids.append(f"{local}{i}.{tag}@{domain}{i % 500}.example/{resource}-{i:x}")
    return jids


@dataclass(frozen=True)
class Workload:
    name: str
    make: Callable[[int], list[str]]
    cached: bool


WORKLOADS = (
    Workload("ASCII, cold", _ascii_jids, cached=False),
    Workload("ASCII, cached", _ascii_jids, cached=True),
    Workload("non-ASCII, cold", _unicode_jids, cached=False),
    Workload("non-ASCII, cached", _unicode_jids, cached=True),
)
_WORKING_SET = 1000


@dataclass(frozen=True)
class Contender:
    name: str
    load: Callable[[], Callable[[str], Any]]


def _xmppwire(name: str) -> Callable[[], Callable[[str], Any]]:
    def load() -> Callable[[str], Any]:
        found = _impl.implementations()
        if name not in found:
            raise ImportError(f"xmppwire's {name} implementation can't be imported")
        return found[name].jid.JID

    return load


def _slixmpp() -> Callable[[str], Any]:
    from slixmpp import JID

    return JID


def _aioxmpp() -> Callable[[str], Any]:
    from aioxmpp import JID

    return JID.fromstr


def _twisted() -> Callable[[str], Any]:
    from twisted.words.protocols.jabber.jid import JID

    return JID


CONTENDERS = (
    Contender("xmppwire (cython)", _xmppwire("cython")),
    Contender("xmppwire (python)", _xmppwire("python")),
    Contender("slixmpp JID", _slixmpp),
    Contender("aioxmpp JID.fromstr", _aioxmpp),
    Contender("twisted jid.JID", _twisted),
)


def _rate(parse: Callable[[str], Any], texts: list[str]) -> float:
    start = time.perf_counter()
    for text in texts:
        parse(text)
    return len(texts) / (time.perf_counter() - start)


def _measure(parse: Callable[[str], Any], workload: Workload, budget: float) -> float:
    # Size batches to about a tenth of the budget, from a first small one.
    batch = 200
    best = 0.0
    deadline = time.perf_counter() + budget
    working_set = workload.make(_WORKING_SET) if workload.cached else []
    if working_set:
        _rate(parse, working_set)  # fill the caches once
    while True:
        if workload.cached:
            texts = (working_set * (batch // _WORKING_SET + 1))[:batch]
        else:
            texts = workload.make(batch)
        rate = _rate(parse, texts)
        best = max(best, rate)
        if time.perf_counter() >= deadline:
            return best
        batch = max(200, min(int(rate * budget / 10), 1_000_000))


def rows(
    budget: float = 0.5,
    contenders: tuple[Contender, ...] = CONTENDERS,
    workloads: tuple[Workload, ...] = WORKLOADS,
) -> list[tuple[str, float]]:
    """``(name, jids_per_second)`` per contender and workload; ``budget`` seconds each.

    Contenders that can't be imported are left out.
    """
    result = []
    for workload, contender in itertools.product(workloads, contenders):
        try:
            parse = contender.load()
        except ImportError:
            continue
        result.append((f"{contender.name}, {workload.name}", _measure(parse, workload, budget)))
    return result


def format_table(measured: list[tuple[str, float]]) -> str:
    """The rows as an aligned table: one line per contender, one column per workload."""
    names = [w.name for w in WORKLOADS]
    by_contender: dict[str, dict[str, float]] = {}
    for label, rate in measured:
        contender, _, workload = label.partition(", ")
        by_contender.setdefault(contender, {})[workload] = rate
    width = max([len("contender"), *map(len, by_contender)])
    columns = [max(len(n), 12) for n in names]
    lines = [
        f"{'contender':<{width}}  "
        + "  ".join(f"{n:>{c}}" for n, c in zip(names, columns, strict=True)),
    ]
    for contender, rates in by_contender.items():
        cells = (
            f"{rates[n]:>{c},.0f}" if n in rates else f"{'-':>{c}}"
            for n, c in zip(names, columns, strict=True)
        )
        lines.append(f"{contender:<{width}}  " + "  ".join(cells))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m xmppwire.bench.jid", description=__doc__)
    parser.add_argument(
        "--budget", type=float, default=0.5, help="seconds per contender and workload"
    )
    args = parser.parse_args(argv)
    sys.stdout.write(format_table(rows(budget=args.budget)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
