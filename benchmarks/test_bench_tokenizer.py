"""Splitting a client stream into top-level elements, every contender on the same chunks.

Timings are reported, never asserted. What is asserted is that each contender
saw every element of the corpus, so a fast number can't come from a run that
stopped early.
"""

from __future__ import annotations

from typing import Any

from xmppwire.bench.corpus import Corpus
from xmppwire.bench.runners import Contender, Run


def test_split_stream(
    benchmark: Any, contender: Contender, run: Run, corpus: Corpus, chunk: int, chunks: list[bytes]
) -> None:
    benchmark.group = f"{corpus.name} corpus, {chunk // 1024} KiB chunks"
    benchmark.name = contender.label
    benchmark.extra_info.update(
        corpus=corpus.name, chunk=chunk, bytes=corpus.size, elements=corpus.elements
    )
    elements = benchmark(run, chunks)
    if elements is not None:
        assert elements == corpus.elements
