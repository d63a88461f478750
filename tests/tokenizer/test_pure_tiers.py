"""The pure twin's three ways through an element agree with each other and the compiled twin.

The pure-Python tokenizer takes a top-level element by its fast pattern when it
can; where that fails, by a wide pattern (prefixes, CDATA, other names, deeper,
more attributes) once the process has needed it often enough; then by a walk
over its tokens; and only then the exact way, token by token. Each tier must
report exactly what the exact path would: the same events and the same error,
message and offset included. These tests force each tier (``walk``: the wide
pattern never compiled; ``wide``: compiled at once, on the Pythons that use it,
3.11 and later) and compare the pure twin's outcome with the compiled twin's on
every shape of the shapes bench, on inputs each tier must refuse, and on
generated and damaged streams, cut in many ways.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strategies import DAMAGE, RESTRICTED_DAMAGE, mutations, split_points, streams
from xmpp_samples import HEADER, bytewise, feed_chunks, split_at
from xmppwire import Limits, _impl
from xmppwire import _tokenizer_py as pure
from xmppwire.bench.shapes import SHAPES
from xmppwire.bench.shapes import stream as shape_stream
from xmppwire.events import ElementReceived

TIERS = ("walk", "wide")

FAST = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@contextlib.contextmanager
def tier(name: str) -> Iterator[None]:
    """Make the pure twin take what its fast pattern leaves by the walk or by the wide pattern."""
    saved = pure._WIDE_AFTER, pure._wide_misses, dict(pure._WIDE_CACHE)
    pure._WIDE_CACHE.clear()
    pure._wide_misses = 0
    pure._WIDE_AFTER = 10**9 if name == "walk" else 0
    try:
        yield
    finally:
        pure._WIDE_AFTER, pure._wide_misses = saved[0], saved[1]
        pure._WIDE_CACHE.clear()
        pure._WIDE_CACHE.update(saved[2])


@pytest.fixture(scope="module")
def compiled(request: pytest.FixtureRequest):
    found = _impl.implementations()
    if "cython" not in found:
        if not request.config.getoption("c_extensions"):
            pytest.skip("compared with the compiled twin, which --no-c-extensions leaves out")
        pytest.fail("the compiled twin can't be imported: build it (pip install -e .)")
    return found["cython"].tokenizer.StreamParser


def outcomes(compiled_class: type, chunks: list[bytes], **kwargs):
    with_pure = feed_chunks(pure.StreamParser(**kwargs), chunks, close=True)
    with_compiled = feed_chunks(compiled_class(**kwargs), chunks, close=True)
    return with_pure, with_compiled


def assert_same(a, b) -> None:
    assert a.events == b.events
    assert a.error == b.error
    if a.exception is not None:
        assert str(a.exception) == str(b.exception)


def elements(outcome) -> list[ElementReceived]:
    return [e for e in outcome.events if type(e) is ElementReceived]


def cuts(data: bytes) -> dict[str, list[bytes]]:
    return {
        "whole": [data],
        "4KiB": [data[i : i + 4096] for i in range(0, len(data), 4096)],
        "sevens": [data[i : i + 7] for i in range(0, len(data), 7)],
        "thirteens": split_at(data, range(5, len(data), 13)),
    }


@pytest.mark.parametrize("way", TIERS)
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_every_shape_agrees(compiled, way, shape):
    data = shape_stream(shape, 12_000) + b"</stream:stream>"
    with tier(way):
        for name, chunks in cuts(data).items():
            with_pure, with_compiled = outcomes(compiled, chunks)
            assert with_pure.error is None, (name, with_pure.exception)
            assert_same(with_pure, with_compiled)
            ours_all = elements(with_pure)
            assert len(ours_all) >= 2
            # what a consumer reads of them is what the compiled twin's events say
            theirs_all = elements(with_compiled)
            for ours, theirs in zip(ours_all, theirs_all, strict=True):
                assert ours.attrs == theirs.attrs
                assert ours.element().tag == theirs.element().tag


# Each tier must refuse what the exact path refuses, and word it alike.
REFUSED = [
    # a prefix declared on a sibling is not in scope
    b"<message><x:a xmlns:x='urn:x'/><x:b/></message>",
    # a prefix no one declared, deep down and at the top
    b"<message><a><b><c><q:d/></c></b></a></message>",
    b"<q:message/>",
    # declarations that may not be
    b"<message xmlns:p=''><p:a/></message>",
    b"<message><a xmlns:p=''/></message>",
    b"<message xmlns:xmlns='urn:x'/>",
    b"<message xmlns:xml='urn:x'/>",
    b"<xmlns:message/>",
    # declarations whose value isn't UTF-8
    b"<message><a xmlns:p='\xbf'><p:b/></a></message>",
    b"<message><p:a xmlns:p='u'><b xmlns='\xbf'/></p:a></message>",
    # declarations with a reference to no character (past U+10FFFF)
    b"<message xmlns='&#x110000;'><body>" + b"x" * 600 + b"</body></message>",
    b"<message><a xmlns='&#x110000;'/></message>",
    b"<message><x:a xmlns:x='&#1114112;'/></message>",
    b"<message xmlns:x='&#x110000;'><x:a/></message>",
    b"<message><x:a xmlns:x='&#99999999999999999999;'/></message>",
    b"<message xmlns='&#x" + b"F" * 40 + b";'/>",
    # two attributes that are one once resolved
    b"<message xmlns:p='u' xmlns:q='u'><a p:x='1' q:x='2'/></message>",
    # CDATA: what is after it is text again
    b"<message><body><![CDATA[a]]>]]></body></message>",
    b"<message><body><![CDATA[a]]>&bogus;</body></message>",
    b"<message><body><![CDATA[\x01]]></body></message>",
    # names: bytes no name may hold, an empty local part
    b"<message><k\xc2\xbdrper/></message>",
    b"<message><\xc2\xbdk/></message>",
    b"<message><a:/></message>",
    b"<message><a::b xmlns:a='u'/></message>",
    # nesting and attributes beyond what the patterns count
    b"<message>" + b"<l>" * 14 + b"</l>" * 13 + b"</x></message>",
    b"<message><c " + b" ".join(b"a%d='1'" % k for k in range(11)) + b" a3='2'/></message>",
    b"<message " + b" ".join(b"a%d='1'" % k for k in range(14)) + b" a0='2'/></message>",
    # what restricted XML forbids, inside an element the wide pattern would take
    b"<message><x:a xmlns:x='u'><!-- c --></x:a></message>",
    b"<message><![CDATA[x]]><?pi x?></message>",
    b"<message><x:a xmlns:x='u' v='a<b'/></message>",
    b"<message><x:a xmlns:x='u'>\xff</x:a></message>",
]


@pytest.mark.parametrize("way", TIERS)
@pytest.mark.parametrize("payload", REFUSED, ids=range(len(REFUSED)))
def test_each_tier_refuses_alike(compiled, way, payload):
    # A few good elements first: an error must not lose them.
    good = b"<message to='a@b'><body>1</body></message>" * 3
    data = HEADER + good + payload
    with tier(way):
        for chunks in (*cuts(data).values(), bytewise(data)):
            with_pure, with_compiled = outcomes(compiled, chunks)
            assert with_compiled.exception is not None, payload
            assert_same(with_pure, with_compiled)
            assert len(elements(with_pure)) == 3


@pytest.mark.parametrize("way", TIERS)
def test_tight_limits_hold_in_every_tier(compiled, way):
    limits = Limits(max_depth=5, max_attributes=3, max_name_bytes=6)
    payloads = [
        b"<message><x:a xmlns:x='u'><x:b><x:c><x:d><x:e/></x:d></x:c></x:b></x:a></message>",
        b"<message><x:a xmlns:x='u' a='1' b='2' c='3'/></message>",
        b"<message><x:abcdef xmlns:x='u'/></message>",
        b"<message><![CDATA[x]]><abcdefg/></message>",
    ]
    with tier(way):
        for payload in payloads:
            data = HEADER + payload
            for chunks in cuts(data).values():
                with_pure, with_compiled = outcomes(compiled, chunks, limits=limits)
                assert with_compiled.exception is not None, payload
                assert_same(with_pure, with_compiled)


@pytest.mark.parametrize("way", TIERS)
@settings(FAST)
@given(data=st.data())
def test_generated_and_damaged_streams(compiled, way, data):
    stream = data.draw(streams(), label="stream")
    raw = stream.data
    if data.draw(st.booleans(), label="damage"):
        raw = data.draw(mutations(raw, DAMAGE + RESTRICTED_DAMAGE), label="damaged")
    chunks = split_at(raw, data.draw(split_points(raw), label="cuts"))
    with tier(way):
        assert_same(*outcomes(compiled, chunks))


# CDATA sections left open, long: what holds no ']]>' must be given up on in linear
# time, in every tier and on every Python (3.10 has no possessive quantifiers).
OPEN_SECTIONS = [
    b"<message><body><![CDATA[" + b"a" * 3000,
    b"<message><body><![CDATA[" + b"ab]" * 1000 + b"]",
    b"<message><x:a xmlns:x='u'><![CDATA[" + b"a" * 3000 + b"</x:a></message>",
    b"<message><x:a xmlns:x='u'><![CDATA[" + b"a]]" * 1000 + b"</x:a></message>",
]


@pytest.mark.parametrize("way", TIERS)
@pytest.mark.parametrize("payload", OPEN_SECTIONS, ids=range(len(OPEN_SECTIONS)))
def test_sections_left_open_wait_in_every_tier(compiled, way, payload):
    good = b"<message to='a@b'><body>1</body></message>" * 3
    data = HEADER + good + payload
    with tier(way):
        for chunks in cuts(data).values():
            with_pure, with_compiled = outcomes(compiled, chunks)
            # the stream ends inside the section: the elements before it are all there
            assert with_compiled.error is not None
            assert_same(with_pure, with_compiled)
            assert len(elements(with_pure)) == 3


# A stanza cut by the end of a sizeable read has its start tag read before its end
# arrives: a declaration that references no character is an error there too, worded
# as the exact path words it.
@pytest.mark.parametrize("way", TIERS)
@pytest.mark.parametrize(
    "tag",
    [
        b"<message xmlns='&#x110000;'>",
        b"<message><a xmlns='&#x110000;'>",
        b"<message xmlns:x='&#x110000;'><x:a>",
        b"<message xmlns:x='&#99999999999999999999;'><x:a>",
    ],
)
def test_declarations_of_a_cut_stanza_are_judged(compiled, way, tag):
    good = b"<message to='a@b'><body>1</body></message>" * 20
    chunks = [HEADER + good + tag + b"<body>" + b"x" * 600, b"</body></message>"]
    with tier(way):
        with_pure, with_compiled = outcomes(compiled, chunks)
    assert with_compiled.exception is not None
    assert with_compiled.exception.condition == "not-well-formed"
    assert str(with_compiled.exception).startswith("bad reference in an attribute value (")
    assert_same(with_pure, with_compiled)
    assert len(elements(with_pure)) == 20


# A run of elements the fast pattern matched but its checks refuse as a whole (here
# for a body naming the XML namespace, fine in text but looked for everywhere) goes
# the exact way once: the fast pattern is not tried again after each of its elements,
# which would match the rest of the run again each time (n**2 / 2 matches).
@pytest.mark.parametrize("way", TIERS)
@pytest.mark.parametrize(
    "last",
    [
        b"<message><body>http://www.w3.org/XML/1998/namespace</body></message>",
        b"<message xmlns='&#x75;rn:x'/>",
        b"<r\x9d>" + b"<r/>" * 100,
    ],
)
def test_a_refused_run_is_matched_once(compiled, way, last, monkeypatch):
    data = HEADER + b"<r/>" * 1000 + last
    calls = []
    fast_path = pure.StreamParser._fast_path

    def counted(self, *args):
        calls.append(self._pos)
        return fast_path(self, *args)

    monkeypatch.setattr(pure.StreamParser, "_fast_path", counted)
    with tier(way):
        with_pure, with_compiled = outcomes(compiled, [data])
    assert_same(with_pure, with_compiled)
    assert len(elements(with_pure)) >= 1000
    assert len(calls) <= 3, calls[:10]
