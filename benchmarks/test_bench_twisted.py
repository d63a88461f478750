"""Twisted Words' receive and router paths with and without xmppwire's accelerator.

Two measurements per corpus and chunk size, on twisted's own classes:

- ``twisted receive``: a new XMPP ``XmlStream`` per round, ``dataReceived``
  fed the corpus chunk by chunk, through twisted's observer dispatch to one
  observer on every stanza that reads its ``to``, ``from`` and body, as an
  application's first handler does.
- ``twisted jid``: a cold ``JID(...)`` for every distinct address in the
  corpus (what ``internJID`` pays once per address), with twisted's stringprep
  and with the accelerator's fast path for plain ASCII JIDs.
- ``twisted router``: twisted's router (``component.Router`` behind
  ``XMPPComponentServerFactory``): an external component's stream is opened
  and authenticated (header and handshake), then its stanzas (the corpus's,
  after the features) are parsed, routed on their ``to`` and serialized onto
  the destination's stream. Only the component's stream is parsed; the
  router's own work (its log line and ``toXml`` per stanza, the write) is the
  same with and without the accelerator.

Run: ``pytest benchmarks/test_bench_twisted.py --benchmark-only --benchmark-group-by=group``,
or ``python benchmarks/test_bench_twisted.py [SIZE] [ROUNDS]`` for the
interleaved CPU-time table of the README. Timings are reported, never
asserted; every run must deliver every stanza.
"""

from __future__ import annotations

import hashlib
import importlib
import re
from collections.abc import Callable
from typing import Any

import pytest

from xmppwire import _impl
from xmppwire.bench.corpus import Corpus

twisted = pytest.importorskip("twisted")

from twisted.words.protocols.jabber import component, xmlstream  # noqa: E402
from twisted.words.protocols.jabber import jid as twisted_jid  # noqa: E402

from xmppwire.integrations import _twisted_jid  # noqa: E402
from xmppwire.integrations import twisted as accelerator  # noqa: E402

RECEIVERS = [
    pytest.param(None, id="twisted"),
    pytest.param("cython", id="xmppwire-c"),
    pytest.param("python", id="xmppwire-py"),
]
LABELS = {
    None: "twisted (expat)",
    "cython": "twisted + xmppwire (compiled)",
    "python": "twisted + xmppwire (pure Python)",
}
COMPONENT = "bridge.example.net"
SECRET = "s3cret"


class SinkTransport:
    """The least a transport must do for twisted's XmlStream: swallow writes."""

    disconnecting = False

    def write(self, data: bytes) -> None:
        pass

    def writeSequence(self, data: list[bytes]) -> None:
        pass

    def loseConnection(self) -> None:
        self.disconnecting = True

    def getPeer(self) -> None:
        return None

    def getHost(self) -> None:
        return None


def twins(receiver: str | None) -> dict[str, Any] | None:
    """The parser and tree builder of one implementation, as the accelerator takes them."""
    if receiver is None:
        return None
    found = _impl.implementations()
    if receiver not in found:
        pytest.skip(f"the {receiver} implementation is not importable here")
    suffix = "c" if receiver == "cython" else "py"
    return {
        "parser_class": found[receiver].tokenizer.StreamParser,
        "tree_target": importlib.import_module(f"xmppwire._domish_trees_{suffix}").DomishTarget,
    }


def receive_path(
    chunks: list[bytes], accelerated: dict[str, Any] | None
) -> Callable[[], dict[str, int]]:
    """One client stream per round, every stanza read by an observer."""
    seen = {"stanzas": 0, "bodies": 0, "to": 0, "from": 0}

    def observe(stanza: Any) -> None:
        seen["stanzas"] += 1
        if stanza.getAttribute("to"):
            seen["to"] += 1
        if stanza.getAttribute("from"):
            seen["from"] += 1
        body = stanza.body
        if body is not None and str(body):
            seen["bodies"] += 1

    def receive() -> dict[str, int]:
        for key in seen:
            seen[key] = 0
        xs = xmlstream.XmlStream(xmlstream.Authenticator())
        if accelerated is not None:
            accelerator.accelerate_stream(xs, **accelerated)
        xs.addObserver("/*", observe)
        xs.makeConnection(SinkTransport())
        data_received = xs.dataReceived
        for chunk in chunks:
            data_received(chunk)
        return seen

    return receive


def component_stream(corpus: Corpus, chunk: int) -> tuple[bytes, list[bytes]]:
    """A component's stream header, and the corpus's stanzas cut as a socket would."""
    header = (
        b"<stream:stream xmlns='jabber:component:accept'"
        b" xmlns:stream='http://etherx.jabber.org/streams' to='" + COMPONENT.encode() + b"'>"
    )
    stanzas = corpus.data.split(b"</stream:features>", 1)[1]
    return header, [stanzas[i : i + chunk] for i in range(0, len(stanzas), chunk)]


def router_path(
    header: bytes, chunks: list[bytes], accelerated: dict[str, Any] | None
) -> Callable[[], dict[str, int]]:
    """A component connects to twisted's router and sends the stanzas; all go to one server."""
    router = component.Router()
    factory = component.XMPPComponentServerFactory(router, SECRET)
    if accelerated is not None:
        accelerator.accelerate_factory(factory, **accelerated)
    sent = {"stanzas": 0}
    destination = xmlstream.XmlStream(xmlstream.Authenticator())
    destination.makeConnection(SinkTransport())
    send = destination.send

    def count_and_send(stanza: Any) -> None:
        sent["stanzas"] += 1
        send(stanza)

    destination.send = count_and_send
    router.addRoute("example.net", destination)

    def route() -> dict[str, int]:
        sent["stanzas"] = 0
        xs = factory.buildProtocol(None)
        xs.makeConnection(SinkTransport())
        xs.dataReceived(header)
        digest = hashlib.sha1((xs.sid + SECRET).encode()).hexdigest()
        xs.dataReceived(f"<handshake>{digest}</handshake>".encode())
        assert router.routes.get(COMPONENT) is xs, "the handshake failed"
        data_received = xs.dataReceived
        for chunk in chunks:
            data_received(chunk)
        xs.connectionLost(None)  # off the routing table, for the next round
        return sent

    return route


def corpus_jids(corpus: Corpus) -> list[str]:
    """Every distinct address in the corpus, in order of appearance."""
    found = re.findall(rb"""[\s'"](?:from|to|jid)\s*=\s*(['"])([^'"<>]+)\1""", corpus.data)
    return list(dict.fromkeys(j.decode() for _, j in found))


def jid_path(jids: list[str], fast: bool) -> Callable[[], int]:
    """A cold twisted ``JID(...)`` per address: what ``internJID`` pays once for each."""
    parse = _twisted_jid.parse if fast else _twisted_jid._TWISTED_PARSE

    def run() -> int:
        # JID.__init__ looks parse up in its module when called.
        twisted_jid.parse = parse
        try:
            made = [twisted_jid.JID(j) for j in jids]
        finally:
            twisted_jid.parse = _twisted_jid._TWISTED_PARSE
        return len(made)

    return run


@pytest.mark.parametrize("fast", [False, True], ids=["twisted", "xmppwire"])
def test_twisted_jid(benchmark: Any, fast: bool, corpus: Corpus) -> None:
    jids = corpus_jids(corpus)
    run = jid_path(jids, fast=fast)
    benchmark.group = f"twisted jid: {corpus.name} corpus, {len(jids)} distinct addresses"
    benchmark.name = "twisted + xmppwire fast path" if fast else "twisted stringprep"
    assert benchmark(run) == len(jids)


def test_twisted_receive(
    benchmark: Any, receiver: str | None, corpus: Corpus, chunk: int, chunks: list[bytes]
) -> None:
    receive = receive_path(chunks, twins(receiver))
    benchmark.group = f"twisted receive: {corpus.name} corpus, {chunk // 1024} KiB chunks"
    benchmark.name = LABELS[receiver]
    benchmark.extra_info.update(corpus=corpus.name, chunk=chunk, bytes=corpus.size)
    seen = benchmark(receive)
    assert seen["stanzas"] == corpus.elements
    assert seen["to"] == corpus.elements - 1  # all but the features
    assert seen["from"] > 0
    assert seen["bodies"] > 0


def test_twisted_router(benchmark: Any, receiver: str | None, corpus: Corpus, chunk: int) -> None:
    header, chunks = component_stream(corpus, chunk)
    route = router_path(header, chunks, twins(receiver))
    benchmark.group = f"twisted router: {corpus.name} corpus, {chunk // 1024} KiB chunks"
    benchmark.name = LABELS[receiver]
    benchmark.extra_info.update(corpus=corpus.name, chunk=chunk, bytes=corpus.size)
    assert benchmark(route)["stanzas"] == corpus.elements - 1


@pytest.fixture(params=RECEIVERS)
def receiver(request: pytest.FixtureRequest) -> str | None:
    return request.param


def main() -> None:
    """Interleaved rounds, CPU time, best of N: steadier than wall time on a busy machine.

    ``python benchmarks/test_bench_twisted.py [SIZE] [ROUNDS]``
    """
    import sys
    import time

    from xmppwire.bench.corpus import CORPORA, generate
    from xmppwire.bench.runners import chunked

    size = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 15
    found = _impl.implementations()
    receivers = [name for name in (None, "cython", "python") if name is None or name in found]

    print(
        f"twisted {twisted.__version__}, corpora of {size} bytes, best of {rounds} "
        "interleaved rounds, CPU time"
    )
    for corpus_name in CORPORA:
        corpus = generate(corpus_name, size)
        jids = corpus_jids(corpus)
        best_jid = {}
        for fast in (False, True):
            run_jids = jid_path(jids, fast)
            best_jid[fast] = float("inf")
            for _ in range(rounds):
                start = time.process_time()
                run_jids()
                best_jid[fast] = min(best_jid[fast], time.process_time() - start)
        print(
            f"jid     {corpus_name:5} {len(jids)} addresses  "
            f"twisted: {best_jid[False] / len(jids) * 1e6:.1f} us/JID  "
            f"with xmppwire: {best_jid[True] / len(jids) * 1e6:.2f} us/JID "
            f"({best_jid[False] / best_jid[True]:.1f}x)"
        )
        for chunk in (4096, 65536):
            for path in ("receive", "router"):
                if path == "receive":
                    chunks = chunked(corpus.data, chunk)
                    runs = {n: receive_path(chunks, twins(n)) for n in receivers}
                else:
                    header, chunks = component_stream(corpus, chunk)
                    runs = {n: router_path(header, chunks, twins(n)) for n in receivers}
                best = dict.fromkeys(receivers, float("inf"))
                for _ in range(rounds):
                    for name, run in runs.items():
                        start = time.process_time()
                        run()
                        best[name] = min(best[name], time.process_time() - start)
                base = best[None]
                per_stanza = base / corpus.elements * 1e6
                cells = "  ".join(
                    f"{LABELS[name]}: {best[name] * 1e3:6.1f} ms ({base / best[name]:.2f}x)"
                    for name in receivers
                )
                print(
                    f"{path:7} {corpus_name:5} {chunk // 1024:2} KiB  "
                    f"[twisted {per_stanza:.1f} us/stanza]  {cells}"
                )


class _NoTarget:
    """A TreeBuilder target that keeps nothing: the stanza reader's own cost."""

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        pass

    def data(self, text: str) -> None:
        pass

    def end(self, tag: str) -> None:
        pass

    def start_ns(self, prefix: str, uri: str) -> None:
        pass

    def end_ns(self, prefix: str) -> None:
        pass


def stages() -> None:
    """Where the accelerated receive path spends its time, stage by stage, per stanza.

    ``python benchmarks/test_bench_twisted.py --stages [SIZE] [ROUNDS]``: each
    stage adds one step to the previous one, so the differences are the costs.
    """
    import sys
    import time

    from twisted.words.xish.domish import Element

    from xmppwire import StreamParser
    from xmppwire.bench.corpus import CORPORA, generate
    from xmppwire.bench.runners import chunked
    from xmppwire.events import ElementReceived
    from xmppwire.integrations.twisted import DEFAULT_TREE_TARGET

    size = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 9
    for corpus_name in CORPORA:
        corpus = generate(corpus_name, size)
        chunks = chunked(corpus.data, 4096)

        def split(chunks: list[bytes] = chunks) -> None:
            parser = StreamParser()
            for chunk in chunks:
                parser.feed(chunk)

        def read(domish: bool, chunks: list[bytes] = chunks) -> None:
            parser = StreamParser()
            target: Any = None if domish else _NoTarget()
            for chunk in chunks:
                for event in parser.feed(chunk):
                    if type(event) is ElementReceived:
                        if target is None:
                            target = DEFAULT_TREE_TARGET(Element, "jabber:client")
                        event.build(target)

        runs = {
            "StreamParser split": split,
            "+ stanza reader (empty target)": lambda: read(False),
            "+ domish.Element trees": lambda: read(True),
            "+ twisted XmlStream, dispatch, observer": receive_path(chunks, twins("cython")),
            "twisted alone": receive_path(chunks, None),
        }
        best = dict.fromkeys(runs, float("inf"))
        for _ in range(rounds):
            for name, run in runs.items():
                start = time.process_time()
                run()
                best[name] = min(best[name], time.process_time() - start)
        print(
            f"{corpus_name}: "
            + ", ".join(f"{name} {best[name] / corpus.elements * 1e6:.2f} us" for name in runs)
            + " per stanza"
        )


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] == ["--stages"]:
        stages()
    else:
        main()
