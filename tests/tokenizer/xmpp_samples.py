"""Shared inputs and drivers for the stream parser tests.

The drivers feed bytes to a parser the way a transport would: chunk by chunk,
stopping at the first ``RemoteProtocolError``, and collect what a caller sees.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from xmppwire.errors import RemoteProtocolError
from xmppwire.events import ParserEvent, WhitespaceReceived

STREAMS_NS = "http://etherx.jabber.org/streams"
XML_NS = "http://www.w3.org/XML/1998/namespace"
TLS_NS = "urn:ietf:params:xml:ns:xmpp-tls"
SASL_NS = "urn:ietf:params:xml:ns:xmpp-sasl"
STREAM_ERRORS_NS = "urn:ietf:params:xml:ns:xmpp-streams"

#: A client's stream header as most clients send it.
HEADER = (
    b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
    b" to='example.com' version='1.0'>"
)
CLOSE = b"</stream:stream>"
XML_DECLARATION = b"<?xml version='1.0'?>"

#: Prosody 0.12's header in answer to a client (from a real login).
PROSODY_HEADER = (
    b"<?xml version='1.0'?><stream:stream xml:lang='en'"
    b" xmlns:stream='http://etherx.jabber.org/streams' version='1.0'"
    b" id='7fc041e6-7bc2-493a-81e2-fbc19d932b9e' xmlns='jabber:client' from='localhost'>"
)

#: The first bytes of a TLS 1.2 ClientHello record.
TLS_CLIENT_HELLO = bytes.fromhex("16030102000100 01fc0303") + bytes(range(32))


@dataclass
class Outcome:
    """What a caller saw: every event, and the error that ended the input if any."""

    events: list[ParserEvent] = field(default_factory=list)
    exception: RemoteProtocolError | None = None

    @property
    def error(self) -> tuple[str, int | None] | None:
        if self.exception is None:
            return None
        return (self.exception.condition, self.exception.offset)

    @property
    def merged(self) -> list[ParserEvent]:
        return merge_whitespace(self.events)


def merge_whitespace(events: Iterable[ParserEvent]) -> list[ParserEvent]:
    """Adjacent ``WhitespaceReceived`` events joined: the events with chunking taken out."""
    merged: list[ParserEvent] = []
    for event in events:
        if type(event) is WhitespaceReceived and merged and type(merged[-1]) is WhitespaceReceived:
            merged[-1] = WhitespaceReceived(raw=merged[-1].raw + event.raw)
        else:
            merged.append(event)
    return merged


def feed_chunks(parser: object, chunks: Iterable[bytes], *, close: bool = False) -> Outcome:
    """Feed ``chunks`` one by one (then ``close()`` if asked), stopping at the first error."""
    outcome = Outcome()
    try:
        for chunk in chunks:
            outcome.events.extend(parser.feed(chunk))  # type: ignore[attr-defined]
        if close:
            outcome.events.extend(parser.close())  # type: ignore[attr-defined]
    except RemoteProtocolError as exc:
        outcome.events.extend(exc.events)
        outcome.exception = exc
    return outcome


def split_at(data: bytes, points: Iterable[int]) -> list[bytes]:
    """``data`` cut at the given offsets (duplicates and out-of-range points ignored)."""
    cuts = sorted({p for p in points if 0 < p < len(data)})
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in pairwise(bounds)]


def bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def chunkings(data: bytes, *, extra_points: Sequence[int] = ()) -> dict[str, list[bytes]]:
    """A few ways a transport could cut ``data``, byte by byte included."""
    n = len(data)
    ways = {
        "whole": [data],
        "bytewise": bytewise(data),
        "halves": split_at(data, [n // 2]),
        "sevens": [data[i : i + 7] for i in range(0, n, 7)],
        "thirteens-offset": split_at(data, range(5, n, 13)),
    }
    if extra_points:
        ways["around"] = split_at(data, extra_points)
    return ways


def parse(
    parser_class: type,
    data: bytes,
    *,
    chunks: Iterable[bytes] | None = None,
    close: bool = False,
    **kwargs: object,
) -> Outcome:
    parser = parser_class(**kwargs)
    return feed_chunks(parser, [data] if chunks is None else chunks, close=close)
