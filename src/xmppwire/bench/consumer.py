"""What a consumer pays after the split: attributes of every stanza, or its tree.

Two tasks, each on the same chunks of a bench corpus:

- **attrs**: split, then read ``to``, ``from`` and ``type`` of every
  top-level element (what a router or a server's dispatcher does);
- **tree**: split, then build an ``xml.etree.ElementTree`` tree of every
  top-level element (what slixmpp and most clients do).

Contenders: xmppwire compiled and pure (``ElementReceived.to``... and
``.element()``), ElementTree's ``XMLPullParser`` driven as slixmpp drives it,
lxml's, and expat feeding ElementTree's C ``TreeBuilder`` directly with
depth-tracking callbacks. Runs are interleaved (every contender once per
round) so a busy moment hits them all; the fastest and the median round are
reported. Run it with ``python -m xmppwire.bench.consumer`` or as part of
``python -m xmppwire bench``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from . import runners
from .corpus import CORPORA, DEFAULT_SEED, generate

__all__ = ["TASKS", "Row", "format_table", "main", "rows"]

#: What each task does with every top-level element.
TASKS = ("attrs", "tree")

Run = Callable[[Sequence[bytes]], int]


def _xmppwire(name: str, task: str) -> Run | None:
    from xmppwire import _impl
    from xmppwire.events import ElementReceived

    found = _impl.implementations()
    if name not in found:
        return None
    parser_class = found[name].tokenizer.StreamParser

    if task == "attrs":

        def run(chunks: Sequence[bytes]) -> int:
            feed = parser_class().feed
            n = 0
            for chunk in chunks:
                for event in feed(chunk):
                    if event.__class__ is ElementReceived:
                        event.to, event.from_, event.type  # noqa: B018
                        n += 1
            return n

    else:

        def run(chunks: Sequence[bytes]) -> int:
            feed = parser_class().feed
            n = 0
            for chunk in chunks:
                for event in feed(chunk):
                    if event.__class__ is ElementReceived:
                        event.element()
                        n += 1
            return n

    return run


def _pull_attrs(make_parser: Callable[[], object]) -> Run:
    """slixmpp's loop, reading to/from/type of each depth-1 element instead of keeping it."""

    def run(chunks: Sequence[bytes]) -> int:
        parser = make_parser()
        feed = parser.feed  # type: ignore[attr-defined]
        read_events = parser.read_events  # type: ignore[attr-defined]
        depth = n = 0
        root = None
        for chunk in chunks:
            feed(chunk)
            for kind, element in read_events():
                if kind == "start":
                    if depth == 0:
                        root = element
                    depth += 1
                else:
                    depth -= 1
                    if depth == 1:
                        get = element.get
                        get("to"), get("from"), get("type")
                        n += 1
                        root.clear()  # type: ignore[union-attr]
        return n

    return run


def _etree_pull(task: str) -> Run:
    if task == "tree":
        return runners.by_key(["etree-pull"])[0].prepare()  # type: ignore[return-value]
    return _pull_attrs(lambda: ET.XMLPullParser(("start", "end")))


def _lxml_pull(task: str) -> Run | None:
    try:
        from lxml import etree
    except ImportError:
        return None
    if task == "tree":
        return runners.by_key(["lxml-pull"])[0].prepare()  # type: ignore[return-value]
    return _pull_attrs(lambda: etree.XMLPullParser(("start", "end")))


def _expat_builder(task: str) -> Run:
    """pyexpat with handlers feeding the C TreeBuilder: a tree per depth-1 element."""
    import pyexpat

    attrs_only = task == "attrs"

    def run(chunks: Sequence[bytes]) -> int:
        parser = pyexpat.ParserCreate(namespace_separator="}")
        parser.buffer_text = True
        parser.ordered_attributes = False
        if hasattr(parser, "SetReparseDeferralEnabled"):
            parser.SetReparseDeferralEnabled(False)
        depth = n = 0
        builder: ET.TreeBuilder | None = None

        def tag(name: str) -> str:
            return "{" + name if "}" in name else name

        def start(name: str, attributes: dict[str, str]) -> None:
            nonlocal depth, builder
            depth += 1
            if depth == 2:
                if attrs_only:
                    attributes.get("to"), attributes.get("from"), attributes.get("type")
                    return
                builder = ET.TreeBuilder()
            if depth >= 2 and builder is not None:
                if any("}" in a for a in attributes):
                    attributes = {tag(a): v for a, v in attributes.items()}
                builder.start(tag(name), attributes)

        def end(name: str) -> None:
            nonlocal depth, builder, n
            if depth >= 2 and builder is not None:
                builder.end(tag(name))
            if depth == 2:
                n += 1
                if builder is not None:
                    builder.close()
                    builder = None
            depth -= 1

        def data(text: str) -> None:
            if builder is not None:
                builder.data(text)

        parser.StartElementHandler = start
        parser.EndElementHandler = end
        parser.CharacterDataHandler = data
        for chunk in chunks:
            parser.Parse(chunk, False)
        return n

    return run


@dataclass(frozen=True, slots=True)
class Contender:
    key: str
    label: str
    make: Callable[[str], Run | None]


CONTENDERS: tuple[Contender, ...] = (
    Contender("xmppwire-c", "xmppwire compiled", lambda task: _xmppwire("cython", task)),
    Contender("xmppwire-py", "xmppwire pure Python", lambda task: _xmppwire("python", task)),
    Contender("etree-pull", "ElementTree XMLPullParser (slixmpp's loop)", _etree_pull),
    Contender("lxml-pull", "lxml XMLPullParser", _lxml_pull),
    Contender("expat-builder", "pyexpat + C TreeBuilder", _expat_builder),
)


@dataclass(frozen=True, slots=True)
class Row:
    corpus: str
    chunk: int
    task: str
    contender: str
    label: str
    size: int
    elements: int
    #: Seconds of the fastest and the median round; ``None`` when it can't run here.
    fastest: float | None
    median: float | None


def rows(
    *,
    corpora: Sequence[str] = CORPORA,
    size: int = 4_000_000,
    chunk: int = 4096,
    rounds: int = 5,
    seed: int = DEFAULT_SEED,
    progress: Callable[[str], None] | None = None,
) -> list[Row]:
    """Time every contender on every corpus and task, interleaved over ``rounds``."""
    found: list[Row] = []
    for name in corpora:
        corpus = generate(name, size, seed)
        data = corpus.data + b"</stream:stream>"
        chunks = [data[i : i + chunk] for i in range(0, len(data), chunk)]
        for task in TASKS:
            runs = [(c, c.make(task)) for c in CONTENDERS]
            times: dict[str, list[float]] = {c.key: [] for c, _ in runs}
            for _ in range(rounds):
                for contender, run in runs:
                    if run is None:
                        continue
                    start = time.perf_counter()
                    elements = run(chunks)
                    times[contender.key].append(time.perf_counter() - start)
                    if elements != corpus.elements:
                        raise RuntimeError(
                            f"{contender.key} saw {elements} elements in {name}, "
                            f"not {corpus.elements}"
                        )
            for contender, _ in runs:
                spent = times[contender.key]
                found.append(
                    Row(
                        name,
                        chunk,
                        task,
                        contender.key,
                        contender.label,
                        corpus.size,
                        corpus.elements,
                        min(spent) if spent else None,
                        statistics.median(spent) if spent else None,
                    )
                )
            if progress is not None:
                progress(f"consumer: {name} {task} done")
    return found


def format_table(found: Sequence[Row]) -> str:
    """MB/s and µs per stanza, fastest and median round, and the ratio to slixmpp's loop."""
    header = ["corpus", "task", "contender", "MB/s", "µs/stanza", "median µs", "x etree-pull"]
    table = [header]
    previous = None
    for row in found:
        if previous is not None and (row.corpus, row.task) != previous:
            table.append([""] * len(header))
        previous = (row.corpus, row.task)
        base = next(
            (
                r
                for r in found
                if r.corpus == row.corpus and r.task == row.task and r.contender == "etree-pull"
            ),
            None,
        )
        if row.fastest is None:
            table.append([row.corpus, row.task, row.label, "-", "-", "-", "not available"])
            continue
        ratio = base.fastest / row.fastest if base is not None and base.fastest else None
        table.append(
            [
                row.corpus,
                row.task,
                row.label,
                f"{row.size / row.fastest / 1e6:.1f}",
                f"{row.fastest / row.elements * 1e6:.2f}",
                f"{(row.median or 0) / row.elements * 1e6:.2f}",
                "-" if ratio is None else f"{ratio:.2f}",
            ]
        )
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    lines = [
        "  ".join(
            cell.rjust(widths[i]) if i >= 3 else cell.ljust(widths[i]) for i, cell in enumerate(r)
        ).rstrip()
        for r in table
    ]
    legend = (
        "attrs: split + to/from/type of every top-level element; tree: split + an "
        "ElementTree tree of every one. µs/stanza from the fastest round, median µs from "
        "the median; rounds interleave the contenders."
    )
    return "\n".join([*lines, "", legend]) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m xmppwire.bench.consumer",
        description="Time the split plus attributes, and the split plus trees, side by side.",
    )
    parser.add_argument("--size", type=int, default=4_000_000, help="bytes per corpus")
    parser.add_argument("--chunk", type=int, default=4096, help="feed size in bytes")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--corpus", default=",".join(CORPORA), help="comma-separated corpora")
    args = parser.parse_args(argv)
    found = rows(
        corpora=[c for c in args.corpus.split(",") if c],
        size=args.size,
        chunk=args.chunk,
        rounds=args.rounds,
        progress=lambda text: print(text, file=sys.stderr),
    )
    sys.stdout.write(format_table(found))
    return 0


if __name__ == "__main__":
    sys.exit(main())
