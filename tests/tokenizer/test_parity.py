"""Properties across chunkings, across the two twins, and against expat.

- Chunking invariance (each twin): any split of the same bytes, byte by byte
  included, gives the same events once adjacent whitespace is merged, and the
  same error at the same offset.
- Differential (the twins together): generated streams and damaged ones give
  identical events, errors and parser state from the compiled and the Python
  twin, fed the same chunks.
- Against expat: where restricted XML and XMPP's own rules don't decide, a
  stream is accepted exactly when expat (with namespace processing) accepts it.
"""

from __future__ import annotations

import functools
import pyexpat

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strategies import DAMAGE, RESTRICTED_DAMAGE, GeneratedStream, mutations, split_points, streams
from xmpp_samples import HEADER, XML_DECLARATION, Outcome, bytewise, feed_chunks, split_at
from xmppwire import Limits, LocalProtocolError, _impl
from xmppwire.bench.corpus import CORPORA, generate
from xmppwire.events import (
    ElementReceived,
    StreamClosed,
    StreamOpened,
    TextReceived,
    WhitespaceReceived,
)

pytestmark = pytest.mark.hypothesis

FAST = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def twins(request: pytest.FixtureRequest) -> list[_impl.Implementation]:
    """Both implementations; the compiled one is required unless --no-c-extensions."""
    found = _impl.implementations()
    if not request.config.getoption("c_extensions"):
        return [found["python"]]
    if "cython" not in found:
        pytest.fail(
            "the compiled twin can't be imported: build it (pip install -e .) "
            "or pass --no-c-extensions"
        )
    return [found["python"], found["cython"]]


def simplified(events: list) -> list[tuple]:
    """Events in the generator's terms, whitespace merged."""
    out: list[tuple] = []
    for event in events:
        kind = type(event)
        if kind is StreamOpened:
            item: tuple = ("opened",)
        elif kind is ElementReceived:
            item = ("element", event.namespace, event.name, event.raw)
        elif kind is WhitespaceReceived:
            if out and out[-1][0] == "ws":
                out[-1] = ("ws", out[-1][1] + event.raw)
                continue
            item = ("ws", event.raw)
        elif kind is TextReceived:
            item = ("text", event.raw)
        else:
            assert kind is StreamClosed, event
            item = ("closed",)
        out.append(item)
    return out


def run(parser_class: type, chunks: list[bytes], **kwargs) -> tuple[Outcome, object]:
    parser = parser_class(**kwargs)
    return feed_chunks(parser, chunks, close=True), parser


def state(parser) -> tuple:
    return (parser.offset, parser.header, parser.paused)


def same_outcome(a: Outcome, b: Outcome) -> None:
    assert a.events == b.events
    assert a.error == b.error
    if a.exception is not None:
        assert type(a.exception) is type(b.exception)
        # docs/stream-parser.md promises the twins error for error, message included
        assert str(a.exception) == str(b.exception)
        assert a.exception.events == b.exception.events


# -- generated streams: their events, any chunking, both twins, pauses ------------------------


def check_invariance(parser_class: type, data: bytes, chunks: list[bytes]) -> Outcome:
    """The outcome of ``data`` fed whole, checked against ``chunks`` and byte by byte."""
    whole = feed_chunks(parser_class(), [data], close=True)
    for cut in (chunks, bytewise(data)):
        outcome = feed_chunks(parser_class(), cut, close=True)
        assert outcome.merged == whole.merged
        assert outcome.error == whole.error
    return whole


def check_twins(twins, chunks: list[bytes], **kwargs) -> Outcome:
    """The twins fed the same chunks: identical events, error and state."""
    results = [run(twin.tokenizer.StreamParser, chunks, **kwargs) for twin in twins]
    (reference, reference_parser), *others = results
    for outcome, parser in others:
        same_outcome(reference, outcome)
        assert state(parser) == state(reference_parser)
    return reference


def check_pause(twins, stream: GeneratedStream, chunks: list[bytes], target) -> None:
    namespace, name = target
    # the first top-level element with that name is where the parser stops
    first_end = next(e for ns, local, _s, e in stream.elements if (ns, local) == target)
    results = []
    for twin in twins:
        parser = twin.tokenizer.StreamParser(pause_after={(namespace, name)})
        events = []
        rest = b""
        for index, chunk in enumerate(chunks):
            events.extend(parser.feed(chunk))
            if parser.paused:
                rest = parser.take_unparsed() + b"".join(chunks[index + 1 :])
                with pytest.raises(LocalProtocolError):
                    parser.feed(b"x")
                break
        assert parser.paused, twin.name
        assert rest == stream.data[first_end:], twin.name
        assert events[-1].raw == stream.data[first_end - len(events[-1].raw) : first_end]
        assert parser.offset == first_end
        results.append((events, state(parser)))
    assert all(r == results[0] for r in results)


@settings(FAST, max_examples=120)
@given(stream=streams(), data=st.data())
def test_generated_streams(twins, stream: GeneratedStream, data):
    chunks = split_at(stream.data, data.draw(split_points(stream.data), label="cuts"))
    for twin in twins:
        outcome = check_invariance(twin.tokenizer.StreamParser, stream.data, chunks)
        if stream.expected[-1] == ("closed",):
            assert outcome.error is None, (twin.name, outcome.exception)
        else:
            # end of input inside the stream: everything before it was reported
            assert outcome.error == ("not-well-formed", len(stream.data)), twin.name
        assert simplified(outcome.events) == list(stream.expected), twin.name
    for event in outcome.events:
        if type(event) is ElementReceived:
            # the lazy views agree with expat's tree of the same bytes
            tree = event.element()
            assert tree.tag == event.tag
            assert event.attrs == tree.attrib
    check_twins(twins, chunks)
    if stream.elements:
        target = data.draw(st.sampled_from([e[:2] for e in stream.elements]), label="pause")
        check_pause(twins, stream, chunks, target)


# -- damaged streams: any chunking, both twins -------------------------------------------------


@settings(FAST, max_examples=250)
@given(data=st.data())
def test_damaged_streams(twins, data):
    stream = data.draw(streams(), label="stream")
    damaged = data.draw(mutations(stream.data, DAMAGE + RESTRICTED_DAMAGE), label="damaged")
    chunks = split_at(damaged, data.draw(split_points(damaged), label="cuts"))
    for twin in twins:
        check_invariance(twin.tokenizer.StreamParser, damaged, chunks)
    check_twins(twins, chunks)
    check_twins(twins, bytewise(damaged))


@settings(FAST, max_examples=200)
@given(
    prefix=st.sampled_from([b"", HEADER, XML_DECLARATION + HEADER + b"<message>"]),
    noise=st.binary(max_size=64),
)
def test_random_bytes(twins, prefix, noise):
    data = prefix + noise
    for twin in twins:
        check_invariance(twin.tokenizer.StreamParser, data, [data])
    check_twins(twins, [data])
    check_twins(twins, bytewise(data))


# -- tight limits: any chunking, both twins -----------------------------------------------------

tight_limits = st.builds(
    Limits,
    max_stanza_bytes=st.integers(8, 400),
    max_header_bytes=st.integers(40, 300),
    max_depth=st.integers(1, 5),
    max_attributes=st.integers(1, 6),
    max_name_bytes=st.integers(2, 24),
    max_attribute_value_bytes=st.integers(1, 48),
)


@settings(FAST, max_examples=200)
@given(data=st.data())
def test_tight_limits(twins, data):
    stream = data.draw(streams(), label="stream")
    if data.draw(st.booleans(), label="damage"):
        payload = data.draw(mutations(stream.data, DAMAGE), label="damaged")
    else:
        payload = stream.data
    limits = data.draw(tight_limits, label="limits")
    chunks = split_at(payload, data.draw(split_points(payload), label="cuts"))
    for twin in twins:
        parser_class = functools.partial(twin.tokenizer.StreamParser, limits=limits)
        check_invariance(parser_class, payload, chunks)
    outcome = check_twins(twins, chunks, limits=limits)
    if outcome.error is None and payload == stream.data:
        # within the limits nothing is refused
        assert simplified(outcome.events) == list(stream.expected)


# -- against expat ------------------------------------------------------------------------------


def expat_accepts(data: bytes, chunks: list[bytes]) -> bool:
    # expat refuses a namespace URI that contains its separator: use one that no
    # well-formed URI can contain
    parser = pyexpat.ParserCreate(encoding="UTF-8", namespace_separator="\x01")
    if hasattr(parser, "SetReparseDeferralEnabled"):
        parser.SetReparseDeferralEnabled(False)
    try:
        for chunk in chunks:
            parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except pyexpat.ExpatError:
        return False
    return True


#: Conditions that restricted XML or XMPP decide and expat can't: not compared.
NOT_XML_WELL_FORMEDNESS = {"restricted-xml", "invalid-namespace", "unsupported-version"}


@settings(FAST, max_examples=250)
@given(data=st.data())
def test_well_formedness_agrees_with_expat(twins, data):
    stream = data.draw(streams(declaration=False, astral=False), label="stream")
    if stream.expected[-1] == ("closed",):
        # the generator's own check: a closed generated stream is a well-formed document
        assert expat_accepts(stream.data, [stream.data])
    damaged = data.draw(mutations(stream.data, DAMAGE), label="damaged")
    chunks = split_at(damaged, data.draw(split_points(damaged), label="cuts"))
    ours = check_twins(twins, chunks)
    if ours.error is not None and ours.error[0] in NOT_XML_WELL_FORMEDNESS:
        return
    if not any(type(e) is StreamOpened for e in ours.events) and ours.error is None:
        return  # nothing but whitespace: an empty stream is no document for expat
    assert ours.error is None or ours.error[0] in {"not-well-formed", "unsupported-encoding"}
    assert expat_accepts(damaged, chunks) == (ours.error is None), ours.error


# -- the benchmark corpora ----------------------------------------------------------------------


@pytest.mark.parametrize("name", CORPORA)
@pytest.mark.parametrize("chunk", [97, 4096])
def test_bench_corpora_agree(twins, name, chunk):
    """Compact, mixed and pretty-printed streams: every element found, the twins identical."""
    corpus = generate(name, 60_000, seed=12)
    data = corpus.data + b"</stream:stream>"
    chunks = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    outcome = check_twins(twins, chunks)
    assert outcome.error is None
    elements = [e for e in outcome.events if type(e) is ElementReceived]
    assert len(elements) == corpus.elements
    # every byte after the header is in one event or another
    after_header = data.index(b"<stream:stream") + len(outcome.events[0].header.raw)
    assert (
        b"".join(getattr(e, "raw", b"") for e in outcome.events[1:])
        == (data[after_header : -len(b"</stream:stream>")])
    )


# -- error messages, word for word ----------------------------------------------------------------

MESSAGE_CASES = [
    (b"<message><body>hi</a></message>", "end tag does not match"),
    (b"<message><body>hi</body ></message x>", "bad end tag"),
    (b"<message to='a' to='b'/>", "duplicate attribute"),
    (b"<message to='a'from='b'/>", "unexpected character in a start tag"),
    (b"<message to/>", "attribute without '='"),
    (b"<message to=a/>", "unquoted attribute value"),
    (b"<message to='a<b'/>", "'<' in an attribute value"),
    (b"<message to='&nbsp;'/>", "reference to an undefined entity"),
    (b"<message to='&#0;'/>", "bad reference in an attribute value"),
    (b"<message to='\x01'/>", "illegal character in an attribute value"),
    (b"<message><body>&#0;</body></message>", "bad reference"),
    (b"<message><body>&nbsp;</body></message>", "reference to an undefined entity"),
    (b"<message><![CDATA[\x01]]></message>", "illegal character in CDATA"),
    # near misses of the predefined entities
    (b"<message><body>&amp </body></message>", "bad reference"),
    (b"<message><body>&ampx;</body></message>", "reference to an undefined entity"),
    (b"<message><body>&lt&gt;</body></message>", "bad reference"),
    (b"<message to='&apos'/>", "bad reference in an attribute value"),
    (b"<message to='&quote;'/>", "reference to an undefined entity"),
    # references to no character (past U+10FFFF) in namespace declarations, which
    # the pure twin's faster ways read before they judge the references
    (b"<message xmlns='&#x110000;'/>", "bad reference in an attribute value"),
    (b"<message xmlns='urn:x' xmlns:p='&#x110000;urn:p'/>", "bad reference in an attribute value"),
    (b"<message><a xmlns='&#1114112;'/></message>", "bad reference in an attribute value"),
    (
        b"<message><a xmlns:p='&#99999999999999999999;'/></message>",
        "bad reference in an attribute value",
    ),
    (b"<message xmlns='&#x" + b"F" * 40 + b";'/>", "bad reference in an attribute value"),
    (b"<message><p:a xmlns:p='&#x110000;'/></message>", "bad reference in an attribute value"),
    (b"<message xmlns='&#x110000;'><body>" + b"x" * 600, "bad reference in an attribute value"),
    (b"<1message/>", "bad element name"),
    (b"< message/>", "bad element name"),
    (b"<message 1to='a'/>", "bad attribute name"),
    # prefixed names: the local part is scanned apart from the prefix
    (b"<message xml:1a='x'/>", "bad attribute name"),
    (b"<message xml:='x'/>", "bad attribute name"),
    (b"<message a:b:c='x'/>", "bad attribute name"),
    (b"<message xml:lang\t='en' xml:lang='de'/>", "duplicate attribute"),
    (
        b"<message xmlns:p='u' xmlns:q='u' p:a='1' q:a='2'/>",
        "duplicate attribute after namespace resolution",
    ),
    (b"<p:message/>", "undeclared prefix 'p'"),
    (b"</stream:wrong>", "end tag does not close the root"),
]


@pytest.mark.parametrize(("payload", "message"), MESSAGE_CASES)
def test_the_twins_word_each_error_alike(twins, payload, message):
    data = HEADER + payload
    messages = set()
    for chunks in ([data], bytewise(data)):
        for twin in twins:
            outcome = feed_chunks(twin.tokenizer.StreamParser(), chunks)
            assert outcome.exception is not None, (twin.name, payload)
            messages.add(str(outcome.exception))
    (only,) = messages
    assert only.startswith(message + " ("), only
