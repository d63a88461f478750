"""nbxmpp's receive path and JID parsing with and without xmppwire's accelerator.

Three measurements:

- ``nbxmpp parse``: bytes as the transport reads them to ``Node`` objects
  dispatched (counted): nbxmpp's UTF-8 decoding, its noncharacter
  replacement and its parser (``NodeBuilder``, or the accelerator's
  stand-in). This is the step the accelerator replaces.
- ``nbxmpp receive``: the same bytes through ``StanzaDispatcher.process_data``
  to nbxmpp's stanza classes, its modules' handlers and an application's
  message handler: what a client sees end to end.
- ``nbxmpp JID``: ``JID.from_string`` on ASCII JIDs never seen before (the
  caches emptied each round), per JID.

Run: ``pytest benchmarks/test_bench_nbxmpp.py --benchmark-only --benchmark-group-by=group``,
or ``python benchmarks/test_bench_nbxmpp.py [SIZE] [ROUNDS]`` for the README's table
(interleaved rounds, CPU time, best of N). Timings are reported, never asserted.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from xmppwire import _impl
from xmppwire.bench import corpus as corpora
from xmppwire.bench.corpus import Corpus
from xmppwire.bench.runners import chunked

nbxmpp = pytest.importorskip("nbxmpp")

from nbxmpp import protocol  # noqa: E402
from nbxmpp.client import Client  # noqa: E402
from nbxmpp.const import ConnectionProtocol, ConnectionType  # noqa: E402
from nbxmpp.protocol import JID  # noqa: E402
from nbxmpp.structs import ServerAddress, StanzaHandler  # noqa: E402
from nbxmpp.util import utf8_decode  # noqa: E402

from xmppwire.integrations import nbxmpp as accelerator  # noqa: E402

RECEIVERS = [
    pytest.param(None, id="nbxmpp"),
    pytest.param("cython", id="xmppwire-c"),
    pytest.param("python", id="xmppwire-py"),
]
LABELS = {
    None: "nbxmpp (NodeBuilder)",
    "cython": "nbxmpp + xmppwire (compiled)",
    "python": "nbxmpp + xmppwire (pure Python)",
}
JIDS_PER_ROUND = 2000


def _install(name: str | None) -> None:
    """nbxmpp alone, or with both twins of one xmppwire implementation: parser and Node builder."""
    accelerator.uninstall()
    if name is not None:
        suffix = "c" if name == "cython" else "py"
        accelerator.install(
            parser_class=_impl.implementations()[name].tokenizer.StreamParser,
            node_target=importlib.import_module(f"xmppwire._nbxmpp_nodes_{suffix}").NodeTarget,
        )


@pytest.fixture(params=RECEIVERS)
def receiver(request: pytest.FixtureRequest) -> Iterator[str | None]:
    name = request.param
    if name is not None and name not in _impl.implementations():
        pytest.skip(f"the {name} implementation is not importable here")
    logging.disable(logging.WARNING)
    _install(name)
    try:
        yield name
    finally:
        accelerator.uninstall()
        logging.disable(logging.NOTSET)


def _client() -> tuple[Client, dict[str, int]]:
    """nbxmpp's client and dispatcher, bound as the corpus's user, counting what it handles."""
    client = Client()
    client._jid = JID.from_string(corpora.ME)
    client._current_address = ServerAddress(
        corpora.SERVER, None, "127.0.0.1", None, ConnectionProtocol.TCP, ConnectionType.PLAIN, None
    )
    received = {"stanzas": 0, "messages": 0, "body_chars": 0}

    def on_message(_client: Any, stanza: Any, properties: Any) -> None:
        received["messages"] += 1
        received["body_chars"] += len(stanza.getBody() or "")  # what a client reads first

    def on_any(_client: Any, stanza: Any, properties: Any) -> None:
        received["stanzas"] += 1

    dispatcher = client._dispatcher
    dispatcher.set_dispatch_callback(None)
    dispatcher.register_handler(StanzaHandler(name="message", callback=on_message))
    for name in ("message", "presence", "iq"):
        dispatcher.register_handler(StanzaHandler(name=name, callback=on_any, priority=10))
    return client, received


def parse_step(chunks: list[bytes], noncharacters: bool = True) -> Callable[[], int]:
    """bytes -> dispatched Nodes, as nbxmpp's transport and dispatcher run it.

    ``noncharacters=False`` leaves out nbxmpp's noncharacter replacement, to
    compare the parsers alone.
    """
    client, _ = _client()
    dispatcher = client._dispatcher
    counted = [0]

    def count(node: Any) -> None:
        counted[0] += 1

    def receive() -> int:
        counted[0] = 0
        dispatcher.reset_parser()  # a new stream: the corpus starts with a header
        parser = dispatcher._parser
        parser.dispatch = count
        replace = dispatcher.replace_non_character if noncharacters else str
        pending = b""
        for chunk in chunks:
            text, pending = utf8_decode(pending + chunk)
            parser.Parse(replace(text))
        return counted[0]

    return receive


def receive_path(
    chunks: list[bytes], new_jids: bool = False
) -> tuple[Callable[[], None], dict[str, int]]:
    """bytes -> nbxmpp's handlers, through StanzaDispatcher.process_data.

    ``new_jids=True`` empties the JID caches first, as on a new connection.
    """
    client, received = _client()
    dispatcher = client._dispatcher

    def receive() -> None:
        if new_jids:
            forget_jids()
        dispatcher.reset_parser()
        process = dispatcher.process_data
        pending = b""
        for chunk in chunks:
            text, pending = utf8_decode(pending + chunk)
            process(text)

    return receive, received


def cold_jids(round_number: int) -> list[str]:
    """ASCII JIDs of the shapes a roster or a MUC brings, new in every round."""
    tag = f"r{round_number}x"
    return [
        f"{corpora.NICKS[i % len(corpora.NICKS)]}.{tag}{i}@example{i % 7}.net/{tag}-{i}"
        if i % 3
        else f"room{tag}{i}@{corpora.MUC}/Nick {i}"
        for i in range(JIDS_PER_ROUND)
    ]


def forget_jids() -> None:
    """Empty every cache between a string and nbxmpp's JID, nbxmpp's and ours."""
    JID.from_string.cache_clear()
    for name in ("validate_localpart", "validate_domainpart", "validate_resourcepart"):
        getattr(protocol, name).cache_clear()
    protocol.idna2008_prep.cache_clear()


def jid_round(jids: list[str]) -> Callable[[], int]:
    def parse() -> int:
        forget_jids()
        from_string = JID.from_string
        for text in jids:
            from_string(text)
        return len(jids)

    return parse


def test_nbxmpp_parse(
    benchmark: Any, receiver: str | None, corpus: Corpus, chunk: int, chunks: list[bytes]
) -> None:
    benchmark.group = f"nbxmpp parse: {corpus.name} corpus, {chunk // 1024} KiB chunks"
    benchmark.name = LABELS[receiver]
    benchmark.extra_info.update(corpus=corpus.name, chunk=chunk, bytes=corpus.size)
    # The header and every top-level element reach the dispatcher.
    assert benchmark(parse_step(chunks)) == corpus.elements + 1


def test_nbxmpp_receive(
    benchmark: Any, receiver: str | None, corpus: Corpus, chunk: int, chunks: list[bytes]
) -> None:
    receive, received = receive_path(chunks)
    benchmark.group = f"nbxmpp receive: {corpus.name} corpus, {chunk // 1024} KiB chunks"
    benchmark.name = LABELS[receiver]
    benchmark.extra_info.update(corpus=corpus.name, chunk=chunk, bytes=corpus.size)
    benchmark(receive)
    assert received["messages"] > 0 and received["body_chars"] > 0


@pytest.mark.parametrize("accelerated", [False, True], ids=["nbxmpp", "xmppwire"])
def test_nbxmpp_cold_ascii_jids(benchmark: Any, accelerated: bool) -> None:
    # JIDs come from the active implementation whatever parser is installed.
    rounds = iter(range(10**9))
    benchmark.group = f"nbxmpp JID.from_string: {JIDS_PER_ROUND} new ASCII JIDs"
    benchmark.name = f"nbxmpp + xmppwire ({_impl.IMPLEMENTATION})" if accelerated else "nbxmpp"
    _install(_impl.IMPLEMENTATION if accelerated else None)

    def setup() -> tuple[tuple[list[str]], dict[str, Any]]:
        return (cold_jids(next(rounds)),), {}

    def measured(jids: list[str]) -> int:
        return jid_round(jids)()

    try:
        assert benchmark.pedantic(measured, setup=setup, rounds=5) == JIDS_PER_ROUND
    finally:
        accelerator.uninstall()


def main() -> None:
    """Interleaved rounds, CPU time, best of N: steadier than wall time on a busy machine.

    ``python benchmarks/test_bench_nbxmpp.py [SIZE] [ROUNDS]``
    """
    import sys
    import time

    size = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 11
    logging.disable(logging.WARNING)
    found = _impl.implementations()
    receivers = [name for name in (None, "cython", "python") if name is None or name in found]

    def table(
        label: str, runs: dict[str | None, Callable[[], Any]], unit: float, what: str
    ) -> None:
        best = dict.fromkeys(runs, float("inf"))
        for _ in range(rounds):
            for name, run in runs.items():
                _install(name)
                start = time.process_time()
                run()
                best[name] = min(best[name], time.process_time() - start)
        base = best[None]
        cells = "  ".join(
            f"{LABELS[name]}: {best[name] / unit * 1e6:9.2f} {what} ({base / best[name]:.2f}x)"
            for name in runs
        )
        print(f"{label:<36} {cells}", flush=True)

    print(
        f"nbxmpp {nbxmpp.__version__}, xmppwire {_impl.IMPLEMENTATION}, corpora of {size} bytes,"
        f" best of {rounds} interleaved rounds, CPU time"
    )
    for corpus_name in corpora.CORPORA:
        corpus = corpora.generate(corpus_name, size)
        for chunk in (4096, 65536):
            chunks = chunked(corpus.data, chunk)
            per = corpus.elements
            label = f"{corpus_name} {chunk // 1024} KiB"
            # Each receiver gets its own dispatcher, set up with the accelerator as it runs.
            paths: dict[str, dict[str | None, Callable[[], Any]]] = {
                "parse": {},
                "parse, parser alone": {},
                "receive": {},
                "receive, new JIDs": {},
            }
            for name in receivers:
                _install(name)
                paths["parse"][name] = parse_step(chunks)
                paths["parse, parser alone"][name] = parse_step(chunks, noncharacters=False)
                paths["receive"][name] = receive_path(chunks)[0]
                paths["receive, new JIDs"][name] = receive_path(chunks, new_jids=True)[0]
            for path, runs in paths.items():
                table(f"{path:<20} {label}", runs, per, "us/elem")
    counter = iter(range(10**9))
    # JIDs come from the active implementation whatever parser is installed.
    jid_runs = {
        name: lambda: jid_round(cold_jids(next(counter)))() for name in (None, _impl.IMPLEMENTATION)
    }
    table("cold ASCII JID.from_string", jid_runs, JIDS_PER_ROUND, "us/JID")
    accelerator.uninstall()


if __name__ == "__main__":
    main()
