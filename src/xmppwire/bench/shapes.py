"""Input shapes one at a time: where does a tokenizer fall off its speed?

Each shape is a stream of one kind of top-level element repeated (a counter
varies in it), each stressing one thing XML allows and XMPP meets: prefixed
elements, CDATA sections, names other than ASCII, deep nesting, many
attributes, tiny nonzas, pretty-printed or double-quoted tags... Every shape is
split by the pure-Python twin, the compiled twin and ElementTree's
``XMLPullParser`` loop (what slixmpp runs), fed the same chunks, interleaved
over rounds; the table gives the fastest round of each, and the pure twin's
speed as a share of its speed on the ``small`` bench corpus.

Run it with ``python -m xmppwire.bench.shapes``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from . import runners
from .corpus import generate

__all__ = ["SHAPES", "Row", "format_table", "main", "rows", "stream"]

HEADER = (
    b"<?xml version='1.0'?><stream:stream xmlns='jabber:client'"
    b" xmlns:stream='http://etherx.jabber.org/streams' from='example.net'"
    b" to='romeo@example.net' id='s1' version='1.0' xml:lang='en'>"
)

_PUBSUB_EVENT = "http://jabber.org/protocol/pubsub#event"


def _chat(i: int) -> str:
    return (
        f"<message from='juliet{i % 97}@example.net/balcony' to='romeo@example.net/orchard'"
        f" type='chat' id='m{i}'><body>see you at noon {i}</body></message>"
    )


#: name -> (what it stresses, the i-th element)
SHAPES: dict[str, tuple[str, Callable[[int], str]]] = {
    "chat": ("short chat messages, as the small corpus", _chat),
    "prefixed-outer": (
        "prefixes declared on the stanza (as ElementTree serializes)",
        lambda i: (
            f"<message xmlns:ps='{_PUBSUB_EVENT}' from='pubsub.example.net' to='r@e' id='{i}'>"
            f"<ps:event><ps:items node='urn:xmpp:microblog:0'><ps:item id='i{i}'/>"
            "</ps:items></ps:event></message>"
        ),
    ),
    "prefixed-inner": (
        "prefixes declared on the child that uses them",
        lambda i: (
            f"<message from='pubsub.example.net' to='r@e' id='{i}'>"
            f"<x:event xmlns:x='{_PUBSUB_EVENT}'><x:items node='urn:xmpp:microblog:0'>"
            f"<x:item id='i{i}'/></x:items></x:event></message>"
        ),
    ),
    "stream-prefix": (
        "top-level elements with the header's prefix",
        lambda i: (
            "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
            "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism>"
            f"<mechanism>SCRAM-SHA-{i % 9}</mechanism></mechanisms></stream:features>"
        ),
    ),
    "prefixed-attrs": (
        "attributes with a prefix other than xml:",
        lambda i: (
            f"<message from='a@example.net/c' to='r@e' id='{i}'><x xmlns='urn:x'"
            f" xmlns:p='urn:p' p:a='{i}' p:b='2'/></message>"
        ),
    ),
    "cdata": (
        "a CDATA section in the body",
        lambda i: (
            f"<message from='a@example.net/c' to='r@e' id='{i}' type='chat'>"
            f"<body><![CDATA[if (a < b && c > d) return {i};]]></body></message>"
        ),
    ),
    "non-ascii-names": (
        "element names other than ASCII",
        lambda i: (
            f"<message from='a@example.net/c' to='r@e' id='{i}'>"
            f"<körper xmlns='urn:x'>grüße {i}</körper></message>"
        ),
    ),
    "non-ascii-text": (
        "text other than ASCII",
        lambda i: (
            f"<message from='a@example.net/c' to='r@e' id='{i}' type='chat'>"
            f"<body>Привет, как дела? 日本語 {i} 🎉</body></message>"
        ),
    ),
    "references": (
        "entity and character references",
        lambda i: (
            f"<message from='a@example.net/c' to='r@e' id='{i}' type='chat'>"
            f"<body>a &lt; b &amp;&amp; c &gt; d &#x1F600; &quot;{i}&quot;</body></message>"
        ),
    ),
    "deep": (
        "ten levels below the stanza, as a pubsub item in an archived message",
        lambda i: (
            f"<iq type='result' id='d{i}'>"
            + "".join(f"<l{k}>" for k in range(10))
            + "x"
            + "".join(f"</l{k}>" for k in reversed(range(10)))
            + "</iq>"
        ),
    ),
    "many-attrs": (
        "a Jingle ICE candidate: eleven attributes on one child",
        lambda i: (
            f"<iq from='a@example.net/c' to='r@e' id='{i}' type='set'>"
            "<candidate component='1' foundation='1' generation='0' id='el0747fg11'"
            f" ip='10.0.1.{i % 250}' network='1' port='8998' priority='2130706431'"
            " protocol='udp' type='host' rel-port='9'/></iq>"
        ),
    ),
    "sm-acks": (
        "stream management requests and answers (XEP-0198)",
        lambda i: f"<r xmlns='urn:xmpp:sm:3'/><a xmlns='urn:xmpp:sm:3' h='{i}'/>",
    ),
    "tiny": ("the smallest element there is", lambda i: "<r/>"),
    "keepalives": ("chat messages with whitespace keepalives between", lambda i: _chat(i) + " \n"),
    "double-quotes": (
        "double-quoted attribute values",
        lambda i: (
            f'<message from="a@example.net/c" to="r@e" id="{i}" type="chat">'
            f"<body>hi {i}</body></message>"
        ),
    ),
    "pretty": (
        "indented, attributes on their own lines",
        lambda i: (
            f"<message\n    from = 'a@example.net/c'\n    to='r@e'\n    id=\"{i}\"\n"
            "    type='chat'>\n  <body>hi there</body>\n</message>\n"
        ),
    ),
    "long-body": (
        "a 5 KB body",
        lambda i: (
            f"<message from='a@example.net/c' to='r@e' id='{i}' type='chat'>"
            f"<body>{'lorem ipsum dolor sit amet ' * 200}</body></message>"
        ),
    ),
}


def stream(name: str, size: int) -> bytes:
    """A stream header and the shape's elements, at least ``size`` bytes in all."""
    make = SHAPES[name][1]
    parts = [HEADER]
    length = len(HEADER)
    i = 0
    while length < size:
        element = make(i).encode()
        parts.append(element)
        length += len(element)
        i += 1
    return b"".join(parts)


@dataclass
class Row:
    shape: str
    bytes_per_element: float
    pure: float
    pure_share: float
    etree: float
    compiled: float | None


def _split(parser_class: type) -> Callable[[Sequence[bytes]], int]:
    def run(chunks: Sequence[bytes]) -> int:
        feed = parser_class().feed
        events = 0
        for chunk in chunks:
            events += len(feed(chunk))
        return events

    return run


def _fastest(run: Callable[[Sequence[bytes]], int], chunks: Sequence[bytes]) -> float:
    start = time.perf_counter()
    run(chunks)
    return time.perf_counter() - start


def rows(
    shapes: Sequence[str], size: int, chunk: int, rounds: int, progress: Callable[[str], None]
) -> list[Row]:
    from xmppwire import _impl

    found = _impl.implementations()
    pure = _split(found["python"].tokenizer.StreamParser)
    compiled = _split(found["cython"].tokenizer.StreamParser) if "cython" in found else None
    etree = next(c for c in runners.CONTENDERS if c.key == "etree-pull").prepare()
    reference = runners.chunked(generate("small", size).data, chunk)
    best_reference = min(_fastest(pure, reference) for _ in range(rounds))
    reference_speed = size / best_reference
    out: list[Row] = []
    for name in shapes:
        progress(f"shape {name}")
        data = stream(name, size)
        chunks = runners.chunked(data, chunk)
        elements = pure(chunks)
        times: dict[str, float] = {"pure": float("inf"), "etree": float("inf")}
        if compiled is not None:
            times["compiled"] = float("inf")
        for _ in range(rounds):
            times["pure"] = min(times["pure"], _fastest(pure, chunks))
            times["etree"] = min(times["etree"], _fastest(etree, chunks))
            if compiled is not None:
                times["compiled"] = min(times["compiled"], _fastest(compiled, chunks))
        speed = len(data) / times["pure"]
        out.append(
            Row(
                shape=name,
                bytes_per_element=(len(data) - len(HEADER)) / max(elements - 1, 1),
                pure=speed / 1e6,
                pure_share=speed / reference_speed,
                etree=len(data) / times["etree"] / 1e6,
                compiled=len(data) / times["compiled"] / 1e6 if compiled is not None else None,
            )
        )
    return out


def format_table(found: Sequence[Row]) -> str:
    lines = [
        f"{'shape':16} {'B/elem':>7} {'pure MB/s':>10} {'of small':>9} "
        f"{'ElementTree':>12} {'compiled':>9}"
    ]
    for row in found:
        compiled = f"{row.compiled:9.1f}" if row.compiled is not None else f"{'n/a':>9}"
        lines.append(
            f"{row.shape:16} {row.bytes_per_element:7.0f} {row.pure:10.1f} "
            f"{row.pure_share:8.2f}x {row.etree:12.1f} {compiled}"
        )
    legend = (
        "MB/s: 10^6 bytes per second, the fastest of the rounds, interleaved. of small: the pure\n"
        "twin's speed on the shape as a share of its speed on the small bench corpus.\n"
        "ElementTree: its XMLPullParser loop as slixmpp runs it. B/elem: bytes per element.\n"
    )
    descriptions = "".join(f"  {name:16} {SHAPES[name][0]}\n" for name in (r.shape for r in found))
    return "\n".join(lines) + "\n\n" + legend + descriptions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m xmppwire.bench.shapes", description=__doc__)
    parser.add_argument("--size", type=int, default=2_000_000, help="bytes per shape")
    parser.add_argument("--chunk", type=int, default=4096, help="feed size in bytes")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--shape", default=",".join(SHAPES), help="comma-separated shapes")
    args = parser.parse_args(argv)
    unknown = [s for s in args.shape.split(",") if s and s not in SHAPES]
    if unknown:
        parser.error(f"unknown shape(s) {', '.join(unknown)}; choose from {', '.join(SHAPES)}")
    found = rows(
        shapes=[s for s in args.shape.split(",") if s],
        size=args.size,
        chunk=args.chunk,
        rounds=args.rounds,
        progress=lambda text: print(text, file=sys.stderr),
    )
    sys.stdout.write(format_table(found))
    return 0


if __name__ == "__main__":
    sys.exit(main())
