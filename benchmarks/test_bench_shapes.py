"""One input shape at a time: xmppwire's twins and ElementTree's loop on the same chunks.

The shapes of ``python -m xmppwire bench``'s last table (prefixes, CDATA, deep
nesting, many attributes, tiny nonzas...), each a stream of one kind of element.
Timings are reported, never asserted; each contender must see every element.
"""

from __future__ import annotations

from typing import Any

import pytest

from xmppwire import _tokenizer_py
from xmppwire.bench.runners import CONTENDERS, Contender, Run, Unavailable, chunked
from xmppwire.bench.shapes import SHAPES, stream
from xmppwire.events import ElementReceived

SHAPE_CONTENDERS = [c for c in CONTENDERS if c.key in ("xmppwire-c", "xmppwire-py", "etree-pull")]
CHUNK = 4096


@pytest.fixture(scope="module", params=sorted(SHAPES))
def shape(request: pytest.FixtureRequest) -> tuple[str, list[bytes], int]:
    size = request.config.getoption("--bench-size") // 4
    data = stream(request.param, size) + b"</stream:stream>"
    # The top-level elements, as the pure twin counts them.
    events = _tokenizer_py.StreamParser().feed(data)
    elements = sum(1 for e in events if type(e) is ElementReceived)
    return request.param, chunked(data, CHUNK), elements


@pytest.fixture(scope="module", params=SHAPE_CONTENDERS, ids=lambda c: c.key)
def shape_run(request: pytest.FixtureRequest) -> tuple[Contender, Run]:
    contender = request.param
    try:
        return contender, contender.prepare()
    except Unavailable as exc:
        pytest.skip(f"{contender.label}: {exc}")


def test_split_shape(
    benchmark: Any, shape: tuple[str, list[bytes], int], shape_run: tuple[Contender, Run]
) -> None:
    name, chunks, elements = shape
    contender, run = shape_run
    benchmark.group = f"shape {name}, 4 KiB chunks"
    benchmark.name = contender.label
    benchmark.extra_info.update(shape=name, chunk=CHUNK, elements=elements)
    seen = benchmark(run, chunks)
    assert seen == elements
