"""What the compiled tokenizer does differently inside: its buffer, its events, its guard.

The compiled twin keeps unparsed bytes in a buffer of its own that grows by
doubling and is compacted only when full, builds events straight into their
slots, and refuses overlapping calls from two threads. These tests pin down
what a user sees of that; the buffer and thread tests run against both twins,
since the pure-Python one must give the same results.
"""

from __future__ import annotations

import sys
import threading
import tracemalloc

import pytest

from xmppwire import _impl
from xmppwire.errors import LocalProtocolError, RemoteProtocolError
from xmppwire.events import ElementReceived, StreamClosed, StreamOpened, WhitespaceReceived

HEADER = (
    b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
    b" to='example.com' version='1.0'>"
)


def chat(n: int) -> bytes:
    return (
        f"<message from='juliet@example.com/balcony' to='romeo@example.net' type='chat'"
        f" id='m{n}'><body>Wherefore art thou, Romeo? #{n}</body></message>"
    ).encode()


def vcard(n: int, size: int = 65536) -> bytes:
    line = b"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9aw"
    lines = b"\n".join(line for _ in range(size // (len(line) + 1)))
    return (
        b"<iq type='result' id='v" + str(n).encode() + b"'><vCard xmlns='vcard-temp'>"
        b"<PHOTO><BINVAL>" + lines + b"</BINVAL></PHOTO></vCard></iq>"
    )


def elements(events):
    return [e.raw for e in events if type(e) is ElementReceived]


def feed_in(parser, data: bytes, size: int):
    events = []
    for i in range(0, len(data), size):
        events.extend(parser.feed(data[i : i + size]))
    return events


@pytest.mark.parametrize("chunk", [1, 7, 4096, 65536, 1 << 20])
def test_elements_come_out_whole_across_compactions_and_growth(StreamParser, chunk):
    # Small stanzas fill the buffer and force compactions; the large ones make
    # it grow while a partial small one is still held in front of them.
    stanzas = []
    for n in range(300):
        stanzas.append(chat(n))
        if n % 97 == 50:
            stanzas.append(vcard(n))
    data = HEADER + b"".join(stanzas) + b"</stream:stream>"
    if chunk == 1:
        data = HEADER + b"".join(stanzas[:40]) + vcard(999, 4096) + b"</stream:stream>"
        stanzas = [*stanzas[:40], vcard(999, 4096)]
    parser = StreamParser()
    events = feed_in(parser, data, chunk)
    assert type(events[0]) is StreamOpened
    assert type(events[-1]) is StreamClosed
    assert elements(events) == stanzas
    assert parser.offset == len(data)
    assert parser.close() == []


def test_an_element_cut_at_every_byte_keeps_its_bytes(StreamParser):
    stanza = (
        "<message xml:lang='fr' to='a@b'><body>Ça va ? 𝄞 &amp; &#x263A; <![CDATA[<x>]]></body>"
        "<x:y xmlns:x='urn:x' x:a='1'/></message>"
    ).encode()
    for cut in range(1, len(stanza)):
        parser = StreamParser()
        parser.feed(HEADER)
        assert parser.feed(stanza[:cut]) == []
        (event,) = parser.feed(stanza[cut:])
        assert event.raw == stanza
        assert (event.namespace, event.name) == ("jabber:client", "message")


def test_unparsed_bytes_after_a_pause_survive_compaction(StreamParser):
    tls = ("urn:ietf:params:xml:ns:xmpp-tls", "proceed")
    parser = StreamParser(pause_after={tls})
    head = HEADER + b"".join(chat(n) for n in range(200))
    after = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256))
    data = head + b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>" + after
    events = []
    for i in range(0, len(data), 4096):
        if parser.paused:
            rest = parser.take_unparsed() + data[i:]
            break
        events.extend(parser.feed(data[i : i + 4096]))
    else:
        rest = parser.take_unparsed()
    assert parser.paused
    assert rest == after
    assert (events[-1].namespace, events[-1].name) == tls
    assert parser.offset == len(data) - len(after)
    with pytest.raises(LocalProtocolError):
        parser.feed(b" ")


@pytest.mark.parametrize(
    "opener",
    [b"<a b='", b"<a>", b"<a><![CDATA[", b"</", b"<?", b"tail", b"<a>&", b"<a>&#1"],
    ids=["value", "text", "cdata", "end-tag", "pi", "depth-1-text", "name-ref", "char-ref"],
)
def test_a_long_token_fed_byte_by_byte_is_scanned_once(StreamParser, opener):
    # Each feed resumes the scan where the last one stopped; re-reading the
    # held token every time would take minutes here instead of a moment.
    parser = StreamParser()
    parser.feed(HEADER)
    for byte in opener:
        parser.feed(bytes([byte]))
    filler = b"1" if opener.endswith(b"#1") else b"a"
    for _ in range(60_000):
        assert parser.feed(filler) == []
    assert parser.offset == len(HEADER) + len(opener) + 60_000


# -- compiled only --------------------------------------------------------------------------------


@pytest.fixture
def compiled():
    found = _impl.implementations()
    if "cython" not in found:
        pytest.fail("the compiled twins can't be imported: build them or pass --no-c-extensions")
    return found["cython"].tokenizer


@pytest.mark.c_extension
def test_memory_is_given_back_after_a_large_element(compiled):
    parser = compiled.StreamParser()
    parser.feed(HEADER)
    big = vcard(0, 250_000)
    small = b"".join(chat(n) for n in range(2000))
    tracemalloc.start()
    try:
        for i in range(0, len(big) - 1, 4096):
            parser.feed(big[i : min(i + 4096, len(big) - 1)])
        held_big = tracemalloc.get_traced_memory()[0]
        assert [e.raw for e in parser.feed(big[-1:])] == [big]
        for i in range(0, len(small), 4096):
            parser.feed(small[i : i + 4096])
        held_after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert held_big > 250_000
    # A parser that once held a large element does not keep its room.
    assert held_after < 160 * 1024, (held_big, held_after)


@pytest.mark.c_extension
def test_an_idle_parser_holds_at_most_4_kib(compiled):
    """A server holds many idle streams: header read, stanzas done, nothing pending."""
    stanzas = b"".join(chat(n) for n in range(40)) + b"<presence/><iq type='get' id='1'/>"
    count = 400
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        parsers = [compiled.StreamParser() for _ in range(count)]
        for parser in parsers:
            parser.feed(HEADER)
            # fed as a socket hands data over: cut anywhere, the last feed ending a stanza
            for i in range(0, len(stanzas), 1000):
                parser.feed(stanzas[i : i + 1000])
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # the parser, its stream header, its interned names and tables: no buffer
    assert held / count <= 4096, held / count
    assert all(parser.header is not None for parser in parsers)


@pytest.mark.c_extension
def test_the_buffer_is_dropped_with_a_sticky_error(compiled):
    parser = compiled.StreamParser()
    parser.feed(HEADER)
    tracemalloc.start()
    try:
        parser.feed(b"<message><body>" + b"x" * 200_000)
        before = tracemalloc.get_traced_memory()[0]
        with pytest.raises(RemoteProtocolError) as info:
            parser.feed(b"</wrong></message>")
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert info.value.condition == "not-well-formed"
    assert after < before - 150_000, (before, after)
    with pytest.raises(RemoteProtocolError) as again:
        parser.feed(b"<message/>")
    assert again.value is info.value
    parser.reset()
    assert [type(e) for e in parser.feed(HEADER + b"<message/>")] == [StreamOpened, ElementReceived]


@pytest.mark.c_extension
def test_events_built_into_their_slots_equal_constructed_ones(compiled):
    assert compiled._fast_events()
    parser = compiled.StreamParser()
    opened, element, space, text, element2 = parser.feed(
        HEADER + b"<message to='a@b' xml:lang='en'/> \nhi<iq/>"
    )
    assert element == ElementReceived(
        namespace="jabber:client", name="message", raw=element.raw, header=opened.header
    )
    assert hash(element) == hash(
        ElementReceived(
            namespace="jabber:client", name="message", raw=element.raw, header=opened.header
        )
    )
    assert element.attrs == {"to": "a@b", "{http://www.w3.org/XML/1998/namespace}lang": "en"}
    assert element.to == "a@b"
    assert element.header is opened.header is parser.header
    assert element.element().tag == "{jabber:client}message"
    assert space == WhitespaceReceived(raw=b" \n")
    assert text.raw == b"hi"
    assert text.text == "hi"
    assert element2.name == "iq"
    assert "ElementReceived(namespace='jabber:client', name='message'" in repr(element)
    with pytest.raises(AttributeError):
        element.name = "presence"  # type: ignore[misc]


@pytest.mark.c_extension
def test_names_and_namespaces_are_reused_but_always_right(compiled):
    parser = compiled.StreamParser()
    names = ["message", "presence", "iq", "a" * 100, "é" * 10, "x" * 64, "y" * 65]
    data = HEADER + b"".join(
        f"<{name} xmlns='urn:{i % 3}'/>".encode() for i, name in enumerate(names * 50)
    )
    got = [(e.namespace, e.name) for e in parser.feed(data)[1:]]
    assert got == [(f"urn:{i % 3}", name) for i, name in enumerate(names * 50)]


def test_overlapping_calls_from_threads_never_corrupt_the_parser(StreamParser):
    """Both twins refuse a call that overlaps another with RuntimeError, nothing else."""
    stream = HEADER + b"".join(chat(n) for n in range(50)) + b"</stream:stream>"
    expected = StreamParser().feed(stream)
    parser = StreamParser()
    refused = []
    unexpected = []

    def worker():
        for _ in range(200):
            try:
                parser.reset()
                events = parser.feed(stream)
            except RuntimeError:
                refused.append(1)
                continue
            except RemoteProtocolError:
                # Another thread's reset() landed between this reset() and
                # feed(): a second stream after the first one closed.
                continue
            except Exception as exc:  # pragma: no cover - a failure to report
                unexpected.append(exc)
                continue
            if events != expected:
                unexpected.append(events[:2])

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert unexpected == []
    parser.reset()
    assert parser.feed(stream) == expected
