"""What a consumer pays after the split: split + to/from/type, and split + a tree.

The same runners as ``python -m xmppwire.bench.consumer`` (and the consumer
table of ``python -m xmppwire bench``): xmppwire's twins, ElementTree's and
lxml's ``XMLPullParser`` driven as slixmpp drives them, and pyexpat feeding the
C ``TreeBuilder``. Timings are reported, never asserted; every run must see
every element of the corpus.
"""

from __future__ import annotations

from typing import Any

import pytest

from xmppwire.bench.consumer import CONTENDERS, TASKS
from xmppwire.bench.consumer import Contender as ConsumerContender
from xmppwire.bench.corpus import Corpus


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("reader", CONTENDERS, ids=lambda c: c.key)
def test_consume_stream(
    benchmark: Any,
    reader: ConsumerContender,
    task: str,
    corpus: Corpus,
    chunk: int,
    chunks: list[bytes],
) -> None:
    run = reader.make(task)
    if run is None:
        pytest.skip(f"{reader.label} can't run here")
    closed = [*chunks, b"</stream:stream>"]
    benchmark.group = f"{corpus.name} corpus, {chunk // 1024} KiB chunks, split + {task}"
    benchmark.name = reader.label
    benchmark.extra_info.update(corpus=corpus.name, chunk=chunk, task=task, bytes=corpus.size)
    assert benchmark(run, closed) == corpus.elements
