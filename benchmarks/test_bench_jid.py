"""Parsing JIDs: xmppwire's twins side by side with slixmpp, aioxmpp and twisted.

Run ``pytest benchmarks/test_bench_jid.py --benchmark-only --benchmark-group-by=group``:
one group per workload (ASCII or non-ASCII full JIDs, cold or cached), each
round parsing the same number of strings. Cold rounds get strings never seen
before; cached rounds reuse one working set. ``python -m xmppwire.bench.jid``
prints the same comparison as a JIDs/s table.

Timings are reported, never asserted. What is asserted is that every string
of a round was parsed to the JID it names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from xmppwire.bench.jid import CONTENDERS, WORKLOADS, Contender, Workload

PER_ROUND = 1000
ROUNDS = 8


@pytest.fixture(scope="module", params=CONTENDERS, ids=lambda c: c.name)
def parse(request: pytest.FixtureRequest) -> Callable[[str], Any]:
    contender: Contender = request.param
    try:
        return contender.load()
    except ImportError as exc:
        pytest.skip(f"{contender.name}: {exc}")


def _parse_all(parse: Callable[[str], Any], texts: list[str]) -> list[Any]:
    return [parse(text) for text in texts]


@pytest.mark.parametrize("workload", WORKLOADS, ids=lambda w: w.name)
def test_parse_jids(benchmark: Any, parse: Callable[[str], Any], workload: Workload) -> None:
    benchmark.group = f"{workload.name}: {PER_ROUND} full JIDs per round"
    benchmark.extra_info.update(jids_per_round=PER_ROUND)
    if workload.cached:
        texts = workload.make(PER_ROUND)
        _parse_all(parse, texts)
        parsed = benchmark.pedantic(_parse_all, args=(parse, texts), rounds=ROUNDS)
    else:
        last: list[list[str]] = []

        def fresh() -> tuple[tuple[Any, ...], dict[str, Any]]:
            last[:] = [workload.make(PER_ROUND)]
            return (parse, last[0]), {}

        parsed = benchmark.pedantic(_parse_all, setup=fresh, rounds=ROUNDS)
        texts = last[0]
    assert len(parsed) == len(texts)
    for text, jid in zip(texts[:20], parsed[:20], strict=True):
        local, _, rest = text.partition("@")
        # localparts are case-mapped (xmppwire) or case-folded (stringprep)
        assert str(jid).casefold().startswith(local.casefold())
        assert rest.rpartition("/")[2] in str(jid)
