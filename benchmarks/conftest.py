"""Fixtures for the pytest-benchmark suite: corpora, chunk sizes and contenders.

Run ``pytest benchmarks --benchmark-only --benchmark-group-by=group`` to see,
per corpus and chunk size, xmppwire's twins (from ``xmppwire._impl``) side by
side with expat, ElementTree, lxml and the XMPP libraries' receive paths.
``python -m xmppwire bench`` measures the same runners once each, with memory.
"""

from __future__ import annotations

import os

import pytest

from xmppwire import _impl
from xmppwire.bench.corpus import CORPORA, Corpus, generate
from xmppwire.bench.runners import CONTENDERS, Contender, Run, Unavailable, chunked

CHUNKS = (4096, 65536)
# Small enough that every contender gets several rounds within pytest-benchmark's
# default time budget; the command line uses 20 MB.
DEFAULT_SIZE = 1_000_000


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--bench-size",
        type=int,
        default=int(os.environ.get("XMPPWIRE_BENCH_SIZE", DEFAULT_SIZE)),
        help=f"bytes per generated corpus (default {DEFAULT_SIZE}, or $XMPPWIRE_BENCH_SIZE)",
    )


def pytest_report_header(config: pytest.Config) -> str:
    found = ", ".join(sorted(_impl.implementations()))
    return (
        f"xmppwire benchmarks: corpora of {config.getoption('--bench-size')} bytes; "
        f"xmppwire implementations importable: {found}"
    )


_corpora: dict[tuple[str, int], Corpus] = {}


@pytest.fixture(scope="session", params=CORPORA)
def corpus(request: pytest.FixtureRequest) -> Corpus:
    size = request.config.getoption("--bench-size")
    key = (request.param, size)
    if key not in _corpora:
        _corpora[key] = generate(request.param, size)
    return _corpora[key]


@pytest.fixture(scope="session", params=CHUNKS, ids=lambda size: f"{size // 1024}KiB")
def chunk(request: pytest.FixtureRequest) -> int:
    return request.param


@pytest.fixture(scope="session")
def chunks(corpus: Corpus, chunk: int) -> list[bytes]:
    return chunked(corpus.data, chunk)


@pytest.fixture(scope="session", params=CONTENDERS, ids=lambda c: c.key)
def contender(request: pytest.FixtureRequest) -> Contender:
    """Each xmppwire implementation ``_impl.implementations()`` finds, then the alternatives."""
    return request.param


@pytest.fixture(scope="session")
def run(contender: Contender) -> Run:
    try:
        return contender.prepare()
    except Unavailable as exc:
        pytest.skip(f"{contender.label}: {exc}")
