"""Every limit at its edge: exactly the limit passes, one byte more fails, whatever the chunking.

And what the parser holds under input that never ends stays bounded.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import textwrap
import tracemalloc

import pytest

from xmpp_samples import CLOSE, HEADER, XML_DECLARATION, chunkings, feed_chunks
from xmppwire import Limits, RemoteProtocolError
from xmppwire.events import ElementReceived, TextReceived

S = len(HEADER)  # where the first top-level element starts
#: A header small enough for tight attribute, name and value limits.
ROOT = b"<stream xmlns='http://etherx.jabber.org/streams'>"
R = len(ROOT)


def outcomes(StreamParser, data: bytes, limits: Limits, *, points=(), close=False):
    """The outcome of ``data`` under ``limits``, checked to be the same for every chunking."""
    results = {}
    for name, chunks in chunkings(
        data, extra_points=[p + d for p in points for d in (-1, 0, 1)]
    ).items():
        outcome = feed_chunks(StreamParser(limits=limits), chunks, close=close)
        results[name] = outcome
    whole = results["whole"]
    for name, outcome in results.items():
        assert outcome.error == whole.error, name
        assert outcome.merged == whole.merged, name
    return whole


def padded_message(size: int, filler: str = "x") -> bytes:
    """A ``<message>`` of exactly ``size`` bytes (``filler`` may be several bytes long)."""
    head, tail = b"<message><body>", b"</body></message>"
    room = size - len(head) - len(tail)
    unit = filler.encode()
    assert room >= 0 and room % len(unit) == 0, (size, filler)
    return head + unit * (room // len(unit)) + tail


# -- max_stanza_bytes ---------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [64, 257])
@pytest.mark.parametrize(
    "shape",
    ["text", "self-closing", "attribute", "non-ascii", "nested", "cdata", "split-sequence"],
)
def test_stanza_of_exactly_the_limit_passes_one_more_byte_fails(StreamParser, limit, shape):
    def element(size: int) -> bytes:
        if shape == "text":
            return padded_message(size)
        if shape == "self-closing":
            return b"<message id='" + b"a" * (size - len(b"<message id=''/>")) + b"'/>"
        if shape == "attribute":
            head = b"<message id='"
            tail = b"'><body>x</body></message>"
            return head + b"b" * (size - len(head) - len(tail)) + tail
        if shape == "non-ascii":
            head, tail = b"<message><body>", b"</body></message>"
            room = size - len(head) - len(tail)
            return head + b"y" * (room % 3) + "\u4e2d".encode() * (room // 3) + tail
        if shape == "nested":
            head = b"<iq><query xmlns='jabber:iq:roster'><item jid='"
            tail = b"'/></query></iq>"
            return head + b"c" * (size - len(head) - len(tail)) + tail
        if shape == "cdata":
            head = b"<message><body><![CDATA["
            tail = b"]]></body></message>"
            return head + b"d" * (size - len(head) - len(tail)) + tail
        assert shape == "split-sequence"
        # a 4-byte character straddles the boundary in the failing case
        head, tail = b"<message><body>", b"</body></message>"
        emoji = "\U0001f600".encode()
        room = size - len(head) - len(tail)
        return head + b"e" * (room % 4) + emoji * (room // 4) + tail

    fits = element(limit)
    over = element(limit + 1)
    assert (len(fits), len(over)) == (limit, limit + 1)
    limits = Limits(max_stanza_bytes=limit)
    ok = outcomes(StreamParser, HEADER + fits + b"<presence/>", limits, points=[S + limit])
    assert ok.error is None
    assert [e.raw for e in ok.events if type(e) is ElementReceived] == [fits, b"<presence/>"]
    bad = outcomes(StreamParser, HEADER + over + b"<presence/>", limits, points=[S + limit])
    assert bad.error == ("policy-violation", S + limit)
    assert [type(e).__name__ for e in bad.events] == ["StreamOpened"]


def test_every_stanza_has_its_own_budget(StreamParser):
    limits = Limits(max_stanza_bytes=100)
    stanza = padded_message(100)
    data = HEADER + (stanza + b" ") * 5 + padded_message(101)
    bad = outcomes(StreamParser, data, limits)
    start = S + 5 * 101
    assert bad.error == ("policy-violation", start + 100)
    assert [e.raw for e in bad.events if type(e) is ElementReceived] == [stanza] * 5


def test_an_incomplete_stanza_fails_as_soon_as_more_than_the_limit_is_held(StreamParser):
    limits = Limits(max_stanza_bytes=100)
    endless = b"<message><body>" + b"z" * 500
    parser = StreamParser(limits=limits)
    parser.feed(HEADER + endless[:100])
    with pytest.raises(RemoteProtocolError) as info:
        parser.feed(endless[100:101])
    assert (info.value.condition, info.value.offset) == ("policy-violation", S + 100)


def test_size_comes_before_content_in_a_token_that_crosses_the_limit(StreamParser):
    limits = Limits(max_stanza_bytes=100)
    # the text token holding \x01 ends beyond the limit: the size is the error
    data = HEADER + b"<message><body>\x01" + b"q" * 120 + b"</body></message>"
    assert outcomes(StreamParser, data, limits).error == ("policy-violation", S + 100)
    # a complete, bad token before the limit wins
    data = HEADER + b"<message><body>\x01</body><x>" + b"q" * 120 + b"</x></message>"
    assert outcomes(StreamParser, data, limits).error == ("not-well-formed", S + 15)
    # invalid UTF-8 in a token crossing the limit: still the size
    data = HEADER + b"<message><body>\xff" + b"q" * 120 + b"</body></message>"
    assert outcomes(StreamParser, data, limits).error == ("policy-violation", S + 100)


@pytest.mark.parametrize("leading_whitespace", [b"", b"  \n\t"])
def test_depth_1_text_at_the_limit(StreamParser, leading_whitespace):
    limits = Limits(max_stanza_bytes=50)
    run = b"hello &amp; " + b"w" * 37 + b" "  # trailing whitespace belongs to the run
    assert len(run) == 50
    start = S + len(leading_whitespace)
    ok = outcomes(
        StreamParser, HEADER + leading_whitespace + run + b"<a/>", limits, points=[start + 50]
    )
    assert ok.error is None
    assert [e.raw for e in ok.events if type(e) is TextReceived] == [run]
    bad = outcomes(
        StreamParser,
        HEADER + leading_whitespace + b"x" + run + b"<a/>",
        limits,
        points=[start + 50],
    )
    assert bad.error == ("policy-violation", start + 50)


def test_depth_1_cdata_at_the_limit(StreamParser):
    limits = Limits(max_stanza_bytes=40)
    section = b"<![CDATA[" + b"c" * 28 + b"]]>"
    assert len(section) == 40
    ok = outcomes(StreamParser, HEADER + section + b"<a/>", limits, points=[S + 40])
    assert ok.error is None
    over = b"<![CDATA[" + b"c" * 29 + b"]]>"
    bad = outcomes(StreamParser, HEADER + over + b"<a/>", limits, points=[S + 40])
    assert bad.error == ("policy-violation", S + 40)


def test_the_roots_end_tag_counts_from_its_lt(StreamParser):
    limits = Limits(max_stanza_bytes=20)
    fits = b"</stream:stream" + b" " * 4 + b">"
    over = b"</stream:stream" + b" " * 5 + b">"
    assert (len(fits), len(over)) == (20, 21)
    ok = outcomes(StreamParser, HEADER + fits, limits, points=[S + 20])
    assert ok.error is None
    assert type(ok.events[-1]).__name__ == "StreamClosed"
    bad = outcomes(StreamParser, HEADER + over, limits, points=[S + 20])
    assert bad.error == ("policy-violation", S + 20)


@pytest.mark.parametrize(
    "token",
    [b"</stream:stream     >", b"<![CDATA[" + b"c" * 29 + b"]]>", b"<?" + b"a" * 30 + b" ?>"],
    ids=["end-tag", "cdata", "pi"],
)
def test_a_depth_1_token_over_the_limit_is_called_a_token(StreamParser, token):
    # The twins' messages agree too: a token at depth 1 is not an element.
    limits = Limits(max_stanza_bytes=20)
    with pytest.raises(RemoteProtocolError) as caught:
        StreamParser(limits=limits).feed(HEADER + token)
    assert (caught.value.condition, caught.value.offset) == ("policy-violation", S + 20)
    assert str(caught.value).startswith("token longer than max_stanza_bytes")


def test_whitespace_between_stanzas_has_no_limit(StreamParser):
    limits = Limits(max_stanza_bytes=16)
    data = HEADER + b" " * 1000 + b"<a/>" + b"\n" * 1000 + CLOSE
    ok = outcomes(StreamParser, data, limits)
    assert ok.error is None
    assert [type(e).__name__ for e in ok.merged] == [
        "StreamOpened",
        "WhitespaceReceived",
        "ElementReceived",
        "WhitespaceReceived",
        "StreamClosed",
    ]


# -- max_header_bytes ---------------------------------------------------------------------------


@pytest.mark.parametrize("prologue", [b"", XML_DECLARATION, b"  \n", XML_DECLARATION + b"\r\n"])
def test_header_of_exactly_the_limit_passes_one_more_byte_fails(StreamParser, prologue):
    def header(size: int) -> bytes:
        base = prologue + b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams' id=''>"
        return base[:-2] + b"i" * (size - len(base)) + b"'>"

    limit = 200
    limits = Limits(max_header_bytes=limit)
    ok = outcomes(StreamParser, header(limit) + b"<a/>", limits, points=[limit])
    assert ok.error is None
    assert ok.events[0].header.raw == header(limit)[len(prologue) :]
    bad = outcomes(StreamParser, header(limit + 1) + b"<a/>", limits, points=[limit])
    assert bad.error == ("policy-violation", limit)
    assert bad.events == []


def test_whitespace_before_the_header_counts(StreamParser):
    limits = Limits(max_header_bytes=100)
    parser = StreamParser(limits=limits)
    assert parser.feed(b" " * 100) == []
    with pytest.raises(RemoteProtocolError) as info:
        parser.feed(b" ")
    assert (info.value.condition, info.value.offset) == ("policy-violation", 100)


def test_a_self_closing_header_at_the_limit(StreamParser):
    raw = b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams'/>"
    ok = outcomes(StreamParser, raw, Limits(max_header_bytes=len(raw)))
    assert [type(e).__name__ for e in ok.events] == ["StreamOpened", "StreamClosed"]
    bad = outcomes(StreamParser, raw, Limits(max_header_bytes=len(raw) - 1))
    assert bad.error == ("policy-violation", len(raw) - 1)


def test_an_earlier_error_before_the_header_limit_wins(StreamParser):
    data = b"<!--" + b" " * 300
    assert outcomes(StreamParser, data, Limits(max_header_bytes=100)).error == (
        "restricted-xml",
        0,
    )


# -- max_depth ----------------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [1, 3, 10])
@pytest.mark.parametrize("leaf", [b"<x/>", b"<x></x>", b"<x>text</x>"])
def test_depth_at_the_limit(StreamParser, limit, leaf):
    def nested(depth: int) -> bytes:
        return b"<a>" * (depth - 1) + leaf + b"</a>" * (depth - 1)

    limits = Limits(max_depth=limit)
    ok = outcomes(StreamParser, HEADER + nested(limit) + b"<y/>", limits)
    assert ok.error is None
    assert ok.events[1].raw == nested(limit)
    bad = outcomes(StreamParser, HEADER + nested(limit + 1), limits, points=[S + 3 * limit])
    assert bad.error == ("policy-violation", S + 3 * limit)


def test_depth_counts_open_elements_not_siblings(StreamParser):
    limits = Limits(max_depth=2)
    data = HEADER + b"<a>" + b"<b/><c></c><d>t</d>" * 20 + b"</a>"
    assert outcomes(StreamParser, data, limits).error is None


def test_five_thousand_deep_fails_at_the_default_depth(StreamParser):
    # Prosody 0.12 accepts this; the default max_depth is 128.
    data = HEADER + b"<a>" * 5000
    parser = StreamParser()
    with pytest.raises(RemoteProtocolError) as info:
        parser.feed(data)
    assert (info.value.condition, info.value.offset) == ("policy-violation", S + 3 * 128)


def test_depth_comes_before_namespaces(StreamParser):
    data = HEADER + b"<a><p:b/></a>"
    assert outcomes(StreamParser, data, Limits(max_depth=1)).error == ("policy-violation", S + 3)


# -- max_attributes -----------------------------------------------------------------------------


def attributes(count: int) -> bytes:
    return b"".join(b" a%d='%d'" % (i, i) for i in range(count))


@pytest.mark.parametrize("limit", [1, 4, 64])
def test_attributes_at_the_limit(StreamParser, limit):
    limits = Limits(max_attributes=limit)
    ok = outcomes(StreamParser, ROOT + b"<message" + attributes(limit) + b"/>", limits)
    assert ok.error is None
    bad = outcomes(StreamParser, ROOT + b"<message" + attributes(limit + 1) + b"/>", limits)
    assert bad.error == ("policy-violation", R)


def test_declarations_count_as_attributes(StreamParser):
    limits = Limits(max_attributes=3)
    ok = ROOT + b"<message xmlns='jabber:client' xmlns:x='urn:x' x:a='1'/>"
    assert outcomes(StreamParser, ok, limits).error is None
    bad = ROOT + b"<message xmlns='jabber:client' xmlns:x='urn:x' x:a='1' b='2'/>"
    assert outcomes(StreamParser, bad, limits).error == ("policy-violation", R)


def test_attributes_of_a_nested_element(StreamParser):
    limits = Limits(max_attributes=2)
    data = ROOT + b"<message a='1' b='2'><x a='1' b='2'/><y" + attributes(3) + b"/></message>"
    offset = R + len(b"<message a='1' b='2'><x a='1' b='2'/>")
    assert outcomes(StreamParser, data, limits).error == ("policy-violation", offset)


def test_attributes_of_the_header(StreamParser):
    root = b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams' to='a' version='1.0'>"
    assert outcomes(StreamParser, root, Limits(max_attributes=3)).error is None
    assert outcomes(StreamParser, root, Limits(max_attributes=2)).error == ("policy-violation", 0)


def test_the_attribute_count_comes_before_the_attributes_syntax(StreamParser):
    limits = Limits(max_attributes=2)
    data = ROOT + b"<a x='1' y='2' z=3/>"
    assert outcomes(StreamParser, data, limits).error == ("policy-violation", R)
    # a literal duplicate is found before the count
    data = ROOT + b"<a x='1' y='2' x='3'/>"
    assert outcomes(StreamParser, data, limits).error == ("not-well-formed", R)


# -- max_name_bytes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fits", "over"),
    [
        (b"abcdefgh", b"abcdefghi"),
        (b"p:abcdef", b"p:abcdefg"),
        ("\u00e9\u00e9\u00e9\u00e9".encode(), "\u00e9\u00e9\u00e9\u00e9a".encode()),
    ],
)
def test_element_name_at_the_limit(StreamParser, fits, over):
    limits = Limits(max_name_bytes=8)
    declare = b" xmlns:p='urn:p'"
    ok = ROOT + b"<" + fits + declare + b"></" + fits + b">"
    assert outcomes(StreamParser, ok, limits).error is None
    bad = ROOT + b"<r><" + over + declare + b"/></r>"
    assert outcomes(StreamParser, bad, limits).error == ("policy-violation", R + 3)


def test_attribute_name_at_the_limit(StreamParser):
    limits = Limits(max_name_bytes=8)
    ok = ROOT + b"<m xmlns:p='urn:p' abcdefgh='1' p:abcdef='2'/>"
    assert outcomes(StreamParser, ok, limits).error is None
    for name in (b"abcdefghi", b"p:abcdefg", b"xmlns:abc"):
        bad = ROOT + b"<m xmlns:p='urn:p' " + name + b"='1'/>"
        assert outcomes(StreamParser, bad, limits).error == ("policy-violation", R), name


def test_the_header_name_counts_too(StreamParser):
    root = b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>"
    assert outcomes(StreamParser, root, Limits(max_name_bytes=12)).error == ("policy-violation", 0)
    assert outcomes(StreamParser, root, Limits(max_name_bytes=13)).error is None


def test_name_syntax_comes_before_its_length(StreamParser):
    data = ROOT + b"<1abcdefghijklmnop/>"
    assert outcomes(StreamParser, data, Limits(max_name_bytes=8)).error == ("not-well-formed", R)


# -- max_attribute_value_bytes ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fits", "over"),
    [
        (b"0123456789" * 4, b"0123456789" * 4 + b"a"),
        (b"&amp;" * 8, b"&amp;" * 8 + b"x"),
        (b"&#x263A;\xc3\xa9" + b"v" * 30, b"&#x263A;\xc3\xa9" + b"v" * 31),
        ("\u4e2d".encode() * 13 + b"a", "\u4e2d".encode() * 13 + b"ab"),
    ],
)
def test_attribute_value_at_the_limit(StreamParser, fits, over):
    limits = Limits(max_attribute_value_bytes=40)
    assert len(fits) == 40
    for quote in (b"'", b'"'):
        ok = ROOT + b"<m a=" + quote + fits + quote + b"/>"
        assert outcomes(StreamParser, ok, limits).error is None
        bad = ROOT + b"<m><n a=" + quote + over + quote + b"/></m>"
        assert outcomes(StreamParser, bad, limits).error == ("policy-violation", R + 3)


def test_a_header_attribute_value_at_the_limit(StreamParser):
    root = b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams' id='%s'>"
    limits = Limits(max_attribute_value_bytes=32)
    assert outcomes(StreamParser, root % (b"i" * 32), limits).error is None
    assert outcomes(StreamParser, root % (b"i" * 33), limits).error == ("policy-violation", 0)


def test_value_characters_come_before_the_value_length(StreamParser):
    limits = Limits(max_attribute_value_bytes=33)
    data = ROOT + b"<m a='<" + b"b" * 40 + b"'/>"
    assert outcomes(StreamParser, data, limits).error == ("not-well-formed", R)


def test_limits_of_the_old_stream_hold_after_reset(StreamParser):
    limits = Limits(max_stanza_bytes=50)
    parser = StreamParser(limits=limits)
    parser.feed(HEADER + padded_message(50))
    parser.reset()
    parser.feed(HEADER)
    with pytest.raises(RemoteProtocolError) as info:
        parser.feed(padded_message(51))
    assert (info.value.condition, info.value.offset) == ("policy-violation", S + 50)


# -- memory under input that never ends -----------------------------------------------------

CHUNK = 64 * 1024
TOTAL = 50 * 1024 * 1024


@pytest.mark.parametrize(
    "opening",
    [
        b"<message><body>",  # text inside an element
        b"<message to='",  # one attribute value that never ends
        b"<message><body><![CDATA[",  # a CDATA section
        b"hello ",  # character data at depth 1
    ],
    ids=["text", "attribute", "cdata", "depth-1-text"],
)
def test_a_never_ending_stanza_fails_at_the_limit_and_holds_little(StreamParser, opening):
    limit = Limits().max_stanza_bytes
    chunk = opening + b"a" * (CHUNK - len(opening))
    filler = b"a" * CHUNK
    parser = StreamParser()
    parser.feed(HEADER)
    tracemalloc.start()
    try:
        fed = len(HEADER)
        error = None
        data = chunk
        while fed < TOTAL:
            try:
                parser.feed(data)
            except RemoteProtocolError as exc:
                if error is None:
                    error = exc
                    error_fed = fed + len(data)
                    held_at_error = tracemalloc.get_traced_memory()[0]
                assert exc is error
            fed += len(data)
            data = filler
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (error.condition, error.offset) == ("policy-violation", S + limit)
    # the error comes with the chunk that brings the held bytes over the limit
    assert error_fed - CHUNK < S + limit + 1 <= error_fed
    # the parser holds at most the limit plus a chunk; allow for one transient copy
    assert held_at_error < limit + CHUNK + 64 * 1024, held_at_error
    assert peak < 2 * (limit + CHUNK) + 256 * 1024, peak


def test_feeding_after_an_error_holds_nothing_more(StreamParser):
    parser = StreamParser()
    with pytest.raises(RemoteProtocolError):
        parser.feed(HEADER + b"<a><b></a>")
    chunk = b"x" * 100
    raised = 0
    gc.collect()
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        for _ in range(20000):
            try:
                parser.feed(chunk)
            except RemoteProtocolError:
                raised += 1
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - baseline
    finally:
        tracemalloc.stop()
    assert raised == 20000
    # re-raising the sticky error must not pile up tracebacks or data
    assert grown < 64 * 1024, grown


def test_endless_whitespace_between_stanzas_is_never_held(StreamParser):
    parser = StreamParser()
    parser.feed(HEADER + b"<presence/>")
    chunk = b" \n\t\r" * (CHUNK // 4)
    tracemalloc.start()
    try:
        total = 0
        for _ in range(TOTAL // CHUNK):
            for event in parser.feed(chunk):
                total += len(event.raw)
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == TOTAL
    assert peak < 4 * CHUNK + 256 * 1024, peak
    assert current < CHUNK + 64 * 1024, current
    assert [e.raw for e in parser.feed(b"<presence/>")] == [b"<presence/>"]


def test_an_endless_header_fails_at_its_limit(StreamParser):
    parser = StreamParser()
    parser.feed(b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams' id='")
    with pytest.raises(RemoteProtocolError) as info:
        for _ in range(100):
            parser.feed(b"i" * 1000)
    assert (info.value.condition, info.value.offset) == ("policy-violation", 8192)
    assert parser.offset <= 8192 + 1000


RSS_SCRIPT = textwrap.dedent(
    """
    import json, resource, sys
    from xmppwire import _impl
    parser = _impl.implementations()[sys.argv[1]].tokenizer.StreamParser()
    header = b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"
    parser.feed(header)
    chunk = b"<message><body>" + b"a" * (65536 - 15)
    filler = b"a" * 65536
    spaces = b" " * 65536
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    whitespace = 0
    for _ in range(800):
        whitespace += sum(len(e.raw) for e in parser.feed(spaces))
    error = None
    for i in range(800):
        try:
            parser.feed(chunk if i == 0 else filler)
        except Exception as exc:
            error = error or exc
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"kib": after - before, "ws": whitespace,
                      "error": [error.condition, error.offset]}))
    """
)


def test_resident_memory_stays_small_under_100_mb_of_input(impl):
    # ru_maxrss sees allocations tracemalloc can't (plain malloc in compiled code)
    result = subprocess.run(
        [sys.executable, "-c", RSS_SCRIPT, impl.name],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    report = json.loads(result.stdout)
    header = len(
        b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"
    )
    assert report["ws"] == 800 * 65536
    assert report["error"] == ["policy-violation", header + 800 * 65536 + 262144]
    assert report["kib"] < 16 * 1024, report


# -- the defaults, at their edges, in transport-sized chunks ------------------------------------


def transport_chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("size", [4096, 65536, 1 << 20])
def test_default_stanza_limit(StreamParser, size):
    limit = Limits().max_stanza_bytes
    assert limit == 262144
    fits, over = padded_message(limit), padded_message(limit + 1)
    ok = feed_chunks(StreamParser(), transport_chunks(HEADER + fits + b"<a/>", size))
    assert ok.error is None
    assert [len(e.raw) for e in ok.events if type(e) is ElementReceived] == [limit, 4]
    bad = feed_chunks(StreamParser(), transport_chunks(HEADER + over + b"<a/>", size))
    assert bad.error == ("policy-violation", S + limit)


@pytest.mark.parametrize("size", [4096, 65536, 1 << 20])
def test_default_attribute_value_limit(StreamParser, size):
    limit = Limits().max_attribute_value_bytes
    assert limit == 65536
    for value, expected in ((b"v" * limit, None), (b"v" * (limit + 1), ("policy-violation", S))):
        data = HEADER + b"<message id='" + value + b"'/>"
        assert feed_chunks(StreamParser(), transport_chunks(data, size)).error == expected


def test_default_name_limit(StreamParser):
    limit = Limits().max_name_bytes
    assert limit == 1024
    for name, expected in ((b"n" * limit, None), (b"n" * (limit + 1), ("policy-violation", S))):
        data = HEADER + b"<" + name + b" " + name + b"='1'/>"
        assert feed_chunks(StreamParser(), transport_chunks(data, 100)).error == expected


def test_default_header_limit(StreamParser):
    limit = Limits().max_header_bytes
    assert limit == 8192
    base = b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams' id=''>"
    for size, expected in ((limit, None), (limit + 1, ("policy-violation", limit))):
        data = base[:-2] + b"i" * (size - len(base)) + b"'>"
        assert feed_chunks(StreamParser(), transport_chunks(data, 1000)).error == expected


def test_default_depth_and_attribute_limits(StreamParser):
    limits = Limits()
    assert (limits.max_depth, limits.max_attributes) == (128, 64)
    deep = b"<a>" * 128 + b"</a>" * 128
    assert feed_chunks(StreamParser(), [HEADER + deep]).error is None
    many = b"<m" + attributes(64) + b"/>"
    assert feed_chunks(StreamParser(), [HEADER + many]).error is None
    many = b"<m" + attributes(65) + b"/>"
    assert feed_chunks(StreamParser(), [HEADER + many]).error == ("policy-violation", S)


# -- what the limits don't count, and depth-1 tokens that do -------------------------------------


def test_end_tags_are_not_held_to_the_name_limit(StreamParser):
    # a longer end tag name is a mismatch, not a policy matter
    data = ROOT + b"<abcd></abcdefgh>"
    assert outcomes(StreamParser, data, Limits(max_name_bytes=6)).error == (
        "not-well-formed",
        R + len(b"<abcd>"),
    )


def test_reference_names_and_pi_targets_are_not_names_for_the_limit(StreamParser):
    limits = Limits(max_name_bytes=6)
    ok = ROOT + b"<m a='&quot;&apos;'>&quot;&apos;&amp;</m>"
    assert outcomes(StreamParser, ok, limits).error is None
    entity = ROOT + b"<m>&undefinedentity;</m>"
    assert outcomes(StreamParser, entity, limits).error == ("restricted-xml", R + 3)
    pi = ROOT + b"<?averylongtarget x?>"
    assert outcomes(StreamParser, pi, limits).error == ("restricted-xml", R)


def test_a_depth_1_pi_counts_against_the_stanza_limit(StreamParser):
    data = HEADER + b"<?" + b"a" * 30 + b" ?>"
    assert outcomes(StreamParser, data, Limits(max_stanza_bytes=16)).error == (
        "policy-violation",
        S + 16,
    )
    assert outcomes(StreamParser, data, Limits(max_stanza_bytes=33)).error == (
        "restricted-xml",
        S,
    )


@pytest.mark.parametrize(("limit", "expected"), [(8, "policy-violation"), (9, "restricted-xml")])
def test_a_depth_1_doctype_counts_against_the_stanza_limit(StreamParser, limit, expected):
    # `<!DOCTYPE` is complete at 9 bytes: with a limit of 8 its end is beyond the limit
    data = HEADER + b"<!DOCTYPE x>"
    offset = S + limit if expected == "policy-violation" else S
    assert outcomes(StreamParser, data, Limits(max_stanza_bytes=limit)).error == (expected, offset)


def test_a_pi_before_the_header_counts_against_the_header_limit(StreamParser):
    data = b"<?" + b"a" * 80 + b" ?>" + HEADER
    assert outcomes(StreamParser, data, Limits(max_header_bytes=50)).error == (
        "policy-violation",
        50,
    )


@pytest.mark.parametrize(
    ("before", "held"),
    [(b"", b"      "), (b"", b"    \n"), (b"", b"  \t\r\n <"), (b"   ", b"  "), (b"    ", b"\t")],
)
def test_whitespace_past_the_header_limit_fails_in_the_feed_that_brings_it(
    StreamParser, before, held
):
    parser = StreamParser(limits=Limits(max_header_bytes=4))
    if before:
        assert parser.feed(before) == []
    with pytest.raises(RemoteProtocolError) as info:
        parser.feed(held)
    assert (info.value.condition, info.value.offset) == ("policy-violation", 4)


# -- limits far beyond any real stream (both twins alike) -------------------------------------


@pytest.mark.parametrize(
    "limits",
    [
        Limits(max_attribute_value_bytes=2**32 - 1),
        Limits(max_name_bytes=2**32),
        Limits(
            max_stanza_bytes=2**70,
            max_header_bytes=2**64,
            max_depth=2**63,
            max_attributes=2**40,
            max_name_bytes=2**80,
            max_attribute_value_bytes=2**90,
        ),
    ],
)
def test_huge_limits_are_taken_as_no_limit(StreamParser, limits):
    stanza = b"<message to='romeo@example.net' xml:lang='en'><body>hi</body></message>"
    events = StreamParser(limits=limits).feed(HEADER + stanza + CLOSE)
    assert [e.raw for e in events if type(e) is ElementReceived] == [stanza]


@pytest.mark.parametrize("count", [20_000, 100_000])
def test_many_attributes_are_checked_for_duplicates_in_linear_time(StreamParser, count):
    # Pairwise checks would take 5 * 10^9 comparisons for 100,000 attributes: minutes.
    limits = Limits(max_attributes=count + 1, max_stanza_bytes=2**30)
    attributes = b" ".join(b"a%d='v'" % i for i in range(count))
    tag = b"<message " + attributes + b"/>"
    events = StreamParser(limits=limits).feed(HEADER + tag)
    (element,) = [e for e in events if type(e) is ElementReceived]
    assert element.raw == tag
    assert len(element.attrs) == count
    with pytest.raises(RemoteProtocolError) as info:
        StreamParser(limits=limits).feed(HEADER + tag[:-2] + b" a7='w'/>")
    assert (info.value.condition, info.value.offset) == ("not-well-formed", S)
    assert str(info.value).startswith("duplicate attribute")
