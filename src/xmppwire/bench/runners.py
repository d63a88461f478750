"""The contenders: one runner per way of splitting a client stream into top-level elements.

A contender's ``prepare()`` imports what it needs (raising :class:`Unavailable`
when it can't) and returns ``run(chunks) -> elements``: a function that feeds
the chunks, in order, to a fresh parser and returns how many top-level elements
it saw (``None`` when the contender has no way to tell). Every run starts a new
stream, so the same function serves the command line and pytest-benchmark.

:func:`measure_isolated` times runs in a forked child and reads the child's
peak resident set growth, so one contender's heap can't hide or inflate
another's.
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

__all__ = [
    "CONTENDERS",
    "Contender",
    "Measurement",
    "Unavailable",
    "by_key",
    "chunked",
    "measure",
    "measure_isolated",
]

Run = Callable[[Sequence[bytes]], "int | None"]


class Unavailable(Exception):
    """The contender can't run here (library not installed, compiled twin not built)."""


@dataclass(frozen=True, slots=True)
class Contender:
    #: Short name for ``--only`` and pytest ids.
    key: str
    #: What the table calls it.
    label: str
    #: How it is driven and what it builds per element.
    how: str
    prepare: Callable[[], Run]


def chunked(data: bytes, size: int) -> list[bytes]:
    """``data`` cut into ``size``-byte pieces, as a socket would hand them over."""
    return [data[i : i + size] for i in range(0, len(data), size)]


# -- xmppwire ----------------------------------------------------------------


def _import_failure() -> str:
    """Why the compiled set can't be loaded: the first twin that fails to import."""
    import importlib

    from xmppwire import _impl

    for twin in _impl.TWINS:
        try:
            importlib.import_module(f"xmppwire.{twin}_c")
        except ImportError as exc:
            return str(exc)
    return "unknown"


def _xmppwire(name: str) -> Callable[[], Run]:
    def prepare() -> Run:
        from xmppwire import _impl
        from xmppwire.events import ElementReceived

        found = _impl.implementations()
        if name not in found:
            raise Unavailable(f"compiled twins not built ({_import_failure()})")
        stream_parser = found[name].tokenizer.StreamParser

        def run(chunks: Sequence[bytes]) -> int:
            feed = stream_parser().feed
            elements = 0
            for chunk in chunks:
                for event in feed(chunk):
                    if event.__class__ is ElementReceived:
                        elements += 1
            return elements

        return run

    return prepare


# -- expat -------------------------------------------------------------------


def _expat_parser():  # type: ignore[no-untyped-def]
    import pyexpat

    parser = pyexpat.ParserCreate(namespace_separator=" ")
    # Expat 2.6+ holds back a token cut by a chunk boundary until enough data
    # follows; a stream parser must see it as soon as it is complete.
    if hasattr(parser, "SetReparseDeferralEnabled"):
        parser.SetReparseDeferralEnabled(False)
    return parser


def _expat_bare() -> Run:
    _expat_parser()

    def run(chunks: Sequence[bytes]) -> None:
        parse = _expat_parser().Parse
        for chunk in chunks:
            parse(chunk, False)
        return None

    return run


def _expat_depth() -> Run:
    _expat_parser()

    def run(chunks: Sequence[bytes]) -> int:
        parser = _expat_parser()
        depth = 0
        elements = 0

        def start(name: str, attrs: dict[str, str]) -> None:
            nonlocal depth
            depth += 1

        def end(name: str) -> None:
            nonlocal depth, elements
            depth -= 1
            if depth == 1:
                elements += 1

        parser.StartElementHandler = start
        parser.EndElementHandler = end
        parse = parser.Parse
        for chunk in chunks:
            parse(chunk, False)
        return elements

    return run


# -- pull parsers used the way slixmpp uses ElementTree's ----------------------


def _pull(make_parser: Callable[[], object]) -> Run:
    def run(chunks: Sequence[bytes]) -> int:
        parser = make_parser()
        feed = parser.feed  # type: ignore[attr-defined]
        read_events = parser.read_events  # type: ignore[attr-defined]
        depth = 0
        elements = 0
        root = None

        def drain() -> None:
            nonlocal depth, elements, root
            for event, element in read_events():
                if event == "start":
                    if depth == 0:
                        root = element
                    depth += 1
                else:
                    depth -= 1
                    if depth == 1:
                        elements += 1
                        # Keep the root empty so the stream's tree doesn't grow.
                        root.clear()  # type: ignore[union-attr]

        for chunk in chunks:
            feed(chunk)
            drain()
        # Python 3.13's expat defers tokens cut by a feed; flush() hands them over.
        flush = getattr(parser, "flush", None)
        if flush is not None:
            flush()
            drain()
        return elements

    return run


def _etree_pull() -> Run:
    import xml.etree.ElementTree as ET

    return _pull(lambda: ET.XMLPullParser(("start", "end")))


def _lxml_pull() -> Run:
    try:
        from lxml import etree
    except ImportError:
        raise Unavailable("lxml not installed (pip install 'xmppwire[bench]')") from None
    return _pull(lambda: etree.XMLPullParser(events=("start", "end")))


# -- the libraries' own receive paths -----------------------------------------


def _slixmpp() -> Run:
    try:
        from slixmpp.xmlstream import XMLStream
    except ImportError:
        raise Unavailable("slixmpp not installed (pip install 'xmppwire[compare]')") from None

    class SplitOnly(XMLStream):  # type: ignore[misc]
        """slixmpp's stream as is, except that a stanza is counted instead of dispatched."""

        received = 0

        def _spawn_event(self, xml: object) -> None:
            self.received += 1

    # Building an XMLStream takes ~80 ms (handlers, plugins' tables); a client
    # does it once per connection, and init_parser() on every stream (re)start.
    stream = SplitOnly()

    def run(chunks: Sequence[bytes]) -> int:
        stream.received = 0
        stream.init_parser()
        data_received = stream.data_received
        for chunk in chunks:
            data_received(chunk)
        return stream.received

    return run


class _CountingStanzaParser:
    """Stands where aioxmpp's ``XSOParser`` goes: consumes each top-level element's events.

    The real one turns every stanza into typed objects and runs stringprep on
    each JID in it, which costs far more than the parsing (about 0.7 MB/s
    here); like slixmpp's dispatch, that is left out so the row measures the
    receive path up to the split.
    """

    def __init__(self) -> None:
        self.lang = None
        self.elements = 0

    def __call__(self):  # type: ignore[no-untyped-def]
        while True:
            event = yield
            if event[0] != "start":
                continue  # whitespace between stanzas
            depth = 1
            while depth:
                event = yield
                if event[0] == "start":
                    depth += 1
                elif event[0] == "end":
                    depth -= 1
            self.elements += 1


def _aioxmpp() -> Run:
    try:
        import aioxmpp.xml
    except ImportError:
        raise Unavailable("aioxmpp not installed (pip install 'xmppwire[compare]')") from None

    def run(chunks: Sequence[bytes]) -> int:
        # Set up as aioxmpp.protocol.XMLStream does on each (re)start.
        stanza_parser = _CountingStanzaParser()
        processor = aioxmpp.xml.XMPPXMLProcessor()
        processor.stanza_parser = stanza_parser
        parser = aioxmpp.xml.make_parser()
        parser.setContentHandler(processor)
        feed = parser.feed
        for chunk in chunks:
            feed(chunk)
        return stanza_parser.elements

    return run


def _twisted() -> Run:
    try:
        from twisted.words.xish import domish
    except ImportError:
        raise Unavailable("twisted not installed (pip install 'xmppwire[compare]')") from None

    def run(chunks: Sequence[bytes]) -> int:
        elements = 0

        def element(element: object) -> None:
            nonlocal elements
            elements += 1

        stream = domish.elementStream()
        stream.DocumentStartEvent = lambda root: None
        stream.ElementEvent = element
        stream.DocumentEndEvent = lambda: None
        parse = stream.parse
        for chunk in chunks:
            parse(chunk)
        return elements

    return run


CONTENDERS: tuple[Contender, ...] = (
    Contender(
        "xmppwire-c",
        "xmppwire compiled",
        "StreamParser.feed: validated events with raw bytes, no tree",
        _xmppwire("cython"),
    ),
    Contender(
        "xmppwire-py",
        "xmppwire pure Python",
        "StreamParser.feed: validated events with raw bytes, no tree",
        _xmppwire("python"),
    ),
    Contender(
        "expat",
        "pyexpat, no handlers",
        "Parse() only: well-formedness, no events reach Python",
        _expat_bare,
    ),
    Contender(
        "expat-depth",
        "pyexpat + Python handlers",
        "start/end handlers tracking depth (what aioxmpp and twisted build on)",
        _expat_depth,
    ),
    Contender(
        "etree-pull",
        "ElementTree XMLPullParser",
        "slixmpp's loop: start/end events, tree per stanza, root cleared at depth 1",
        _etree_pull,
    ),
    Contender(
        "lxml-pull",
        "lxml XMLPullParser",
        "the same loop over lxml.etree",
        _lxml_pull,
    ),
    Contender(
        "slixmpp",
        "slixmpp XMLStream",
        "its own data_received() on ElementTree; stanza dispatch replaced by a count",
        _slixmpp,
    ),
    Contender(
        "aioxmpp",
        "aioxmpp XMPPXMLProcessor",
        "its xml.sax parser, processor and SAXDriver; stanza objects (XSOParser) left out",
        _aioxmpp,
    ),
    Contender(
        "twisted",
        "twisted domish",
        "its ExpatElementStream building domish trees",
        _twisted,
    ),
)


def by_key(keys: Sequence[str] | None) -> list[Contender]:
    """The contenders named in ``keys`` (all when ``None``), in table order."""
    if keys is None:
        return list(CONTENDERS)
    known = {c.key for c in CONTENDERS}
    unknown = [k for k in keys if k not in known]
    if unknown:
        raise ValueError(
            f"unknown contender {', '.join(unknown)}; choose from {', '.join(sorted(known))}"
        )
    return [c for c in CONTENDERS if c.key in keys]


# -- measuring ---------------------------------------------------------------


@dataclass(slots=True)
class Measurement:
    contender: str
    corpus: str
    chunk: int
    #: Bytes fed.
    size: int
    seconds: float | None = None
    #: The median of the runs' times: with ``seconds``, the spread of the repeats.
    median_seconds: float | None = None
    #: Top-level elements the contender reported; ``None`` when it can't tell.
    elements: int | None = None
    #: Growth of the peak resident set during the run, in bytes.
    peak_rss: int | None = None
    #: Why there is no result: the contender is unavailable or failed.
    error: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, line: str) -> Measurement:
        return cls(**json.loads(line))


def _proc_status(field: str) -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _reset_peak_rss() -> int | None:
    """Make the peak RSS equal the current RSS and return it (Linux), else ``None``."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return None
    return _proc_status("VmRSS")


def measure(
    contender: Contender,
    corpus: str,
    data: bytes,
    chunk: int,
    *,
    repeat: int = 1,
    memory: bool = False,
) -> Measurement:
    """Time ``contender`` on ``data`` fed in ``chunk``-byte pieces, here: the fastest of ``repeat``.

    With ``memory``, the peak RSS growth is that of the first run: later runs
    reuse what it left in the heap.
    """
    result = Measurement(contender.key, corpus, chunk, len(data))
    try:
        run = contender.prepare()
    except Unavailable as exc:
        result.error = str(exc)
        return result
    chunks = chunked(data, chunk)
    gc.collect()
    baseline = _reset_peak_rss() if memory else None
    times = []
    try:
        for _ in range(repeat):
            start = time.perf_counter()
            elements = run(chunks)
            times.append(time.perf_counter() - start)
            if baseline is not None:
                peak = _proc_status("VmHWM")
                if peak is not None:
                    result.peak_rss = max(0, peak - baseline)
                baseline = None
    except Exception as exc:
        result.error = f"failed: {type(exc).__name__}: {exc}"
        return result
    result.seconds = min(times)
    result.median_seconds = statistics.median(times)
    result.elements = elements
    return result


def measure_isolated(
    contender: Contender, corpus: str, data: bytes, chunk: int, *, repeat: int = 1
) -> Measurement:
    """:func:`measure` in a forked child, with its peak RSS growth, where fork exists.

    The child starts from this process's heap; call it from a process that has
    loaded the corpora and imported the contenders and done little else.
    """
    if not hasattr(os, "fork"):
        return measure(contender, corpus, data, chunk, repeat=repeat)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's coverage isn't collected
        status = 0
        try:
            os.close(read_end)
            line = measure(contender, corpus, data, chunk, repeat=repeat, memory=True).to_json()
            with os.fdopen(write_end, "w") as out:
                out.write(line)
        except BaseException:
            status = 1
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        line = pipe.read()
    _, status = os.waitpid(pid, 0)
    if not line:
        return Measurement(
            contender.key, corpus, chunk, len(data), error=f"failed: child exited with {status}"
        )
    return Measurement.from_json(line)


# -- worker: a fresh process that runs a list of jobs ---------------------------


def worker_main(spec_path: str) -> int:
    """Run the jobs in ``spec_path`` (JSON); print progress lines, then one JSON line per job.

    Started as a fresh interpreter so the measured children fork from a heap
    that holds the corpora, the imported contenders and little else. With
    several runs per job, every job runs once per round, so a stretch of
    contention on a busy machine hits all contenders alike instead of one;
    the fastest run counts and the peak RSS is the first run's.
    """
    with open(spec_path) as f:
        spec = json.load(f)
    corpora: dict[str, bytes] = {}
    for name, path in spec["corpora"].items():
        with open(path, "rb") as f:
            corpora[name] = f.read()
    contenders = {c.key: c for c in by_key(spec["contenders"])}
    unavailable: dict[str, str] = {}
    for contender in contenders.values():
        try:
            contender.prepare()
        except Unavailable as exc:
            unavailable[contender.key] = str(exc)
    gc.collect()
    jobs = spec["jobs"]
    rounds = spec["repeat"]
    results: list[Measurement] = []
    for key, corpus, chunk in jobs:
        size = len(corpora[corpus])
        results.append(Measurement(key, corpus, chunk, size, error=unavailable.get(key)))
    total = len(jobs) * rounds
    done = 0
    times: list[list[float]] = [[] for _ in results]
    widths = (
        max((len(r.corpus) for r in results), default=0),
        max((len(c.label) for c in contenders.values()), default=0),
    )
    for round_ in range(rounds):
        for result, its_times in zip(results, times, strict=True):
            done += 1
            contender = contenders[result.contender]
            shown = result
            if result.error is None:
                this = measure_isolated(
                    contender, result.corpus, corpora[result.corpus], result.chunk
                )
                if this.error is not None:
                    result.error = this.error
                    result.seconds = result.median_seconds = None
                else:
                    its_times.append(this.seconds)  # type: ignore[arg-type]
                    result.seconds = min(its_times)
                    result.median_seconds = statistics.median(its_times)
                if round_ == 0:
                    result.peak_rss = this.peak_rss
                result.elements = this.elements
                shown = this
            # Progress and results share stdout, so the parent relays progress
            # in order wherever its own progress goes; results are JSON lines.
            print(_progress(done, total, contender, shown, widths), flush=True)
    for result in results:
        print(result.to_json(), flush=True)
    return 0


def chunk_label(size: int) -> str:
    return f"{size // 1024} KiB" if size % 1024 == 0 else f"{size} B"


def _progress(
    number: int, total: int, contender: Contender, result: Measurement, widths: tuple[int, int]
) -> str:
    """One aligned line: which run, its corpus and chunking, the contender and its speed."""
    corpus_width, label_width = widths
    where = (
        f"[{number:>{len(str(total))}}/{total}] {result.corpus:<{corpus_width}} "
        f"{chunk_label(result.chunk):>7}"
    )
    if result.error is not None or not result.seconds:
        outcome = result.error or "no time measured"
    else:
        outcome = f"{result.size / result.seconds / 1e6:8.1f} MB/s"
    return f"{where}  {contender.label:<{label_width}}  {outcome}"
