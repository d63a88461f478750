"""slixmpp's receive path with and without xmppwire's accelerator, on the same chunks.

Two measurements per corpus and chunk size:

- ``slixmpp receive``: ``data_received`` through to slixmpp's stanza objects,
  its stream handlers and an application's ``message`` handler, as a client
  runs it. slixmpp's own per-stanza work (stanza classes, plugin lookups,
  handler matching) is the same with and without the accelerator, so this
  ratio is the speed-up a slixmpp user sees.
- ``slixmpp split``: the same ``data_received`` with ``_spawn_event`` counting
  instead of dispatching: the split into ElementTree elements alone, which is
  the part the accelerator replaces.

Run: ``pytest benchmarks/test_bench_slixmpp.py --benchmark-only --benchmark-group-by=group``.
Timings are reported, never asserted; every run must deliver every element.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from xmppwire import _impl
from xmppwire.bench.corpus import Corpus

slixmpp = pytest.importorskip("slixmpp")

from slixmpp import ClientXMPP  # noqa: E402

from xmppwire.integrations import slixmpp as accelerator  # noqa: E402

RECEIVERS = [
    pytest.param(None, id="slixmpp"),
    pytest.param("cython", id="xmppwire-c"),
    pytest.param("python", id="xmppwire-py"),
]
LABELS = {
    None: "slixmpp (ElementTree)",
    "cython": "slixmpp + xmppwire (compiled)",
    "python": "slixmpp + xmppwire (pure Python)",
}


class SinkTransport(asyncio.Transport):
    """Swallows what slixmpp writes (iq errors it answers with, for instance)."""

    def write(self, data: bytes | bytearray | memoryview) -> None:
        pass

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default


class SplitOnly(ClientXMPP):  # type: ignore[misc]
    """A client whose stanzas are counted where slixmpp would dispatch them."""

    received = 0

    def _spawn_event(self, xml: object) -> None:
        self.received += 1


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    # slixmpp logs every stanza at DEBUG; a client in production doesn't.
    logging.disable(logging.INFO)
    try:
        yield loop
    finally:
        logging.disable(logging.NOTSET)
        asyncio.set_event_loop(None)
        loop.close()


@pytest.fixture(params=RECEIVERS)
def receiver(request: pytest.FixtureRequest) -> Iterator[str | None]:
    name = request.param
    if name is None:
        yield None
        return
    found = _impl.implementations()
    if name not in found:
        pytest.skip(f"the {name} implementation is not importable here")
    accelerator.install(parser_class=found[name].tokenizer.StreamParser)
    try:
        yield name
    finally:
        accelerator.uninstall()


def _client(cls: type[ClientXMPP], loop: asyncio.AbstractEventLoop) -> ClientXMPP:
    # Built once per benchmark, as a client is once per connection.
    client = cls("romeo@example.net/orchard-4f2a", "secret", loop=loop)
    client.connection_made(SinkTransport())
    return client


def _count_received(client: ClientXMPP) -> dict[str, int]:
    """An application's share: a filter on every stanza, a handler reading each message."""
    received = {"stanzas": 0, "messages": 0, "body_chars": 0}

    def count(stanza: Any) -> Any:
        received["stanzas"] += 1
        return stanza

    def on_message(message: Any) -> None:
        received["messages"] += 1
        received["body_chars"] += len(message["body"])  # what a bot reads first

    client.add_filter("in", count)
    client.add_event_handler("message", on_message)
    client.add_event_handler("groupchat_message", on_message)
    return received


def _settle(loop: asyncio.AbstractEventLoop) -> None:
    """Let the tasks slixmpp scheduled (feature negotiation) run, outside the timing."""

    async def spin() -> None:
        for _ in range(20):
            await asyncio.sleep(0)

    loop.run_until_complete(spin())


def _rounds(client: ClientXMPP, chunks: list[bytes]) -> Callable[[], None]:
    def receive() -> None:
        client.init_parser()  # a new stream: the corpus starts with a header
        data_received = client.data_received
        for chunk in chunks:
            data_received(chunk)

    return receive


def test_slixmpp_receive(
    benchmark: Any,
    loop: asyncio.AbstractEventLoop,
    receiver: str | None,
    corpus: Corpus,
    chunk: int,
    chunks: list[bytes],
) -> None:
    client = _client(ClientXMPP, loop)
    received = _count_received(client)
    receive = _rounds(client, chunks)

    def measured() -> None:
        received["stanzas"] = 0
        receive()

    benchmark.group = f"slixmpp receive: {corpus.name} corpus, {chunk // 1024} KiB chunks"
    benchmark.name = LABELS[receiver]
    benchmark.extra_info.update(
        corpus=corpus.name, chunk=chunk, bytes=corpus.size, elements=corpus.elements
    )
    benchmark(measured)
    _settle(loop)
    # The features element ends up in slixmpp's feature negotiation, not the filter.
    assert received["stanzas"] >= corpus.elements - 1
    assert received["messages"] > 0
    assert received["body_chars"] > 0
    expected = "StreamParser" if receiver else "XMLPullParser"
    assert type(client.parser).__name__ == expected


def test_slixmpp_split(
    benchmark: Any,
    loop: asyncio.AbstractEventLoop,
    receiver: str | None,
    corpus: Corpus,
    chunk: int,
    chunks: list[bytes],
) -> None:
    client = _client(SplitOnly, loop)
    receive = _rounds(client, chunks)

    def measured() -> int:
        client.received = 0
        receive()
        return client.received

    benchmark.group = f"slixmpp split: {corpus.name} corpus, {chunk // 1024} KiB chunks"
    benchmark.name = LABELS[receiver]
    benchmark.extra_info.update(
        corpus=corpus.name, chunk=chunk, bytes=corpus.size, elements=corpus.elements
    )
    assert benchmark(measured) == corpus.elements
    _settle(loop)


def main() -> None:
    """Interleaved rounds, CPU time, best of N: steadier than wall time on a busy machine.

    ``python benchmarks/test_bench_slixmpp.py [SIZE] [ROUNDS]``
    """
    import sys
    import time

    from xmppwire.bench.corpus import CORPORA, generate
    from xmppwire.bench.runners import chunked

    size = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 15
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    logging.disable(logging.INFO)
    found = _impl.implementations()
    receivers = [name for name in (None, "cython", "python") if name is None or name in found]

    def prepared(path: str, name: str | None, chunks: list[bytes]) -> Callable[[], None]:
        cls: type[ClientXMPP] = SplitOnly if path == "split" else ClientXMPP
        if name is not None:
            # The mixin, so that each client keeps its parser whatever runs next.
            cls = type(
                f"Accelerated{cls.__name__}",
                (accelerator.XMPPWireStream, cls),
                {"xmppwire_parser_class": found[name].tokenizer.StreamParser},
            )
        client = _client(cls, loop)
        if path == "receive":
            _count_received(client)
        return _rounds(client, chunks)

    print(
        f"slixmpp {slixmpp.__version__}, corpora of {size} bytes, best of {rounds} "
        "interleaved rounds, CPU time"
    )
    for corpus_name in CORPORA:
        corpus = generate(corpus_name, size)
        for chunk in (4096, 65536):
            chunks = chunked(corpus.data, chunk)
            for path in ("receive", "split"):
                runs = {name: prepared(path, name, chunks) for name in receivers}
                best = dict.fromkeys(receivers, float("inf"))
                for _ in range(rounds):
                    for name, run in runs.items():
                        start = time.process_time()
                        run()
                        best[name] = min(best[name], time.process_time() - start)
                    _settle(loop)
                base = best[None]
                cells = "  ".join(
                    f"{LABELS[name]}: {best[name] * 1e3:6.1f} ms ({base / best[name]:.2f}x)"
                    for name in receivers
                )
                print(f"{path:7} {corpus_name:5} {chunk // 1024:2} KiB  {cells}")


if __name__ == "__main__":
    main()
