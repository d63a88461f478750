"""Attributes, trees and tree targets from the tokenizer's parse, against expat's.

The oracle is expat parsing the whole stream at once (ElementTree's
``XMLPullParser`` with namespace events): every top-level element the
tokenizer reports must give the same tree, the same attributes and the same
target calls as the depth-1 element expat builds from the same bytes, in both
twins, however the stream was cut into chunks.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from strategies import GeneratedStream, split_points, streams
from xmpp_samples import HEADER, split_at
from xmppwire import ElementReceived, _impl
from xmppwire.bench import corpus

pytestmark = pytest.mark.hypothesis

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class Recorder:
    """A target that records every call, text runs joined as one call."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def _add(self, call: tuple) -> None:
        if call[0] == "data" and self.calls and self.calls[-1][0] == "data":
            self.calls[-1] = ("data", self.calls[-1][1] + call[1])
        else:
            self.calls.append(call)

    def start_ns(self, prefix: str, uri: str) -> None:
        self._add(("start_ns", prefix, uri))

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        self._add(("start", tag, dict(attrib)))

    def data(self, text: str) -> None:
        self._add(("data", text))

    def end(self, tag: str) -> None:
        self._add(("end", tag))

    def end_ns(self, prefix: str) -> None:
        self._add(("end_ns", prefix))


class StrictRecorder(Recorder):
    """Records without joining: the contract is one data() call per run."""

    def _add(self, call: tuple) -> None:
        self.calls.append(call)


def expat_elements(data: bytes) -> list[tuple[ET.Element, list[tuple]]]:
    """The depth-1 elements expat builds from a whole stream, with the target calls inside each."""
    depth = 0
    found: list[tuple[ET.Element, list[tuple]]] = []
    calls: list[tuple] = []
    pending_ns: list[tuple] = []

    class Target(ET.TreeBuilder):
        def start_ns(self, prefix: str, uri: str) -> None:
            pending_ns.append(("start_ns", prefix, uri))

        def start(self, tag: str, attrib: dict[str, str]) -> ET.Element:
            nonlocal depth, calls
            depth += 1
            if depth == 2:
                calls = []
            if depth >= 2:
                calls.extend(pending_ns)
                calls.append(("start", tag, dict(attrib)))
            pending_ns.clear()
            return super().start(tag, attrib)

        def data(self, text: str) -> None:
            if depth >= 2:
                if calls and calls[-1][0] == "data":
                    calls[-1] = ("data", calls[-1][1] + text)
                else:
                    calls.append(("data", text))
            super().data(text)

        def end(self, tag: str) -> ET.Element:
            nonlocal depth
            element = super().end(tag)
            if depth >= 2:
                calls.append(("end", tag))
            if depth == 2:
                found.append((element, calls))
            depth -= 1
            return element

        def end_ns(self, prefix: str) -> None:
            if depth >= 1:
                calls.append(("end_ns", prefix))

    parser = ET.XMLParser(target=Target())
    parser.feed(data)
    return found


def shape(element: ET.Element, top: bool = True) -> tuple:
    """What a consumer reads of a tree; a top-level tail belongs to the stream, not the element."""
    return (
        element.tag,
        element.attrib,
        element.text,
        None if top else element.tail,
        [shape(child, False) for child in element],
    )


def stanzas(impl: _impl.Implementation, chunks: list[bytes]) -> list[ElementReceived]:
    parser = impl.tokenizer.StreamParser()
    found: list[ElementReceived] = []
    for chunk in chunks:
        found.extend(e for e in parser.feed(chunk) if type(e) is ElementReceived)
    return found


def check_against_expat(impl: _impl.Implementation, data: bytes, chunks: list[bytes]) -> int:
    expected = expat_elements(data)
    got = stanzas(impl, chunks)
    assert len(got) == len(expected)
    for event, (tree, calls) in zip(got, expected, strict=True):
        assert event.attrs == tree.attrib
        assert shape(event.element()) == shape(tree)
        recorder = StrictRecorder()
        event.build(recorder)
        assert recorder.calls == calls
    return len(got)


@SETTINGS
@given(stream=streams(), data=st.data())
def test_generated_streams_match_expat(impl, stream: GeneratedStream, data) -> None:
    # Streams that close are complete documents for expat; open ones are closed here.
    whole = stream.data
    if ("closed",) not in stream.expected:
        whole += b"</stream:stream>" if b"<stream:stream" in whole else b"</stream>"
    try:
        ET.XMLParser().feed(whole)
    except ET.ParseError:
        assume(False)  # e.g. text after the root: not a document expat reads whole
    points = data.draw(split_points(stream.data))
    check_against_expat(impl, whole, split_at(stream.data, points))


@pytest.mark.parametrize("kind", corpus.CORPORA)
def test_bench_corpora_match_expat(impl, kind: str) -> None:
    data = corpus.generate(kind, 300_000, seed=7).data
    chunks = [data[i : i + 4096] for i in range(0, len(data), 4096)]
    assert check_against_expat(impl, data + b"</stream:stream>", chunks) > 100


CASES = [
    # references and character references, in text and in values
    b"<message to='a&amp;b' id='&#x41;&#66;'>"
    b"<body>x &lt; y &#x263A; &#128512; &quot;</body></message>",
    # line ends: CRLF and CR become LF in text, a space in values; &#13; stays
    b"<message a='1\r\n2\r3\n4\t5' b='&#13;&#10;&#9;'><body>a\r\nb\rc&#13;d</body></message>",
    # CDATA joined with the text around it, line ends normalized inside it
    b"<iq><query>a<![CDATA[<b>&amp;\r\n]]>c<![CDATA[]]></query><x><![CDATA[]]></x></iq>",
    # '>' and quotes in values; whitespace around '='
    b'<presence\n\tid = "a>b"  type\t=\t\'x"y\'\n/>',
    # prefixes: declared on the element, on a child, redeclared, xml:lang
    b"<p:a xmlns:p='urn:p' xmlns:q='urn:q' p:x='1' q:x='2' x='3' xml:lang='en'>"
    b"<q:b xmlns:q='urn:q2' q:y='4'/><c xmlns='urn:c'><d/></c><e xmlns=''/></p:a>",
    # mixed content and tails inside the element
    b"<message><body>one<b>two</b>three<i/>four</body>\n  <x xmlns='jabber:x:oob'/>\n</message>",
    # non-ASCII names and values
    "<message><élément é='中'>\U0001f600</élément></message>".encode(),
]


@pytest.mark.parametrize("raw", CASES, ids=range(len(CASES)))
def test_cases_match_expat_whole_and_bytewise(impl, raw: bytes) -> None:
    data = HEADER + raw
    whole = data + b"</stream:stream>"
    assert check_against_expat(impl, whole, [data]) == 1
    assert check_against_expat(impl, whole, [data[i : i + 1] for i in range(len(data))]) == 1


@pytest.mark.parametrize("uri", ["a&#9;b", "a&#10;b", "a&#13;b", "a&#13;&#10;b", "a&amp;&quot;b"])
def test_header_namespace_with_escaped_whitespace(impl, uri: str) -> None:
    # The header's declarations reach every stanza's tree exactly, references decoded.
    header = (
        f"<stream:stream xmlns='{uri}' xmlns:stream='http://etherx.jabber.org/streams'>"
    ).encode()
    (event,) = stanzas(impl, [header + b"<x a='1'><y/></x>"])
    expected = uri.replace("&#9;", "\t").replace("&#10;", "\n").replace("&#13;", "\r")
    expected = expected.replace("&amp;", "&").replace("&quot;", '"')
    assert event.namespace == expected
    tree = event.element()
    assert tree.tag == f"{{{expected}}}x"
    assert tree[0].tag == f"{{{expected}}}y"
    ((tree_expat, _),) = expat_elements(header + b"<x a='1'><y/></x></stream:stream>")
    assert shape(tree) == shape(tree_expat)


def test_attributes_read_once_and_shared(impl) -> None:
    (event,) = stanzas(impl, [HEADER + b"<message to='a@b' from='c@d/e' type='chat' id='1'/>"])
    assert (event.to, event.from_, event.type, event.id) == ("a@b", "c@d/e", "chat", "1")
    assert event.get("to") == "a@b"
    assert event.get("missing", "-") == "-"
    assert event.attrs is event.attrs
    assert event.lang is None


def test_events_made_by_hand_use_the_active_reader() -> None:
    (made,) = stanzas(_impl.active(), [HEADER + b"<message to='x'><body>b</body></message>"])
    event = ElementReceived(
        namespace=made.namespace, name=made.name, raw=made.raw, header=made.header
    )
    assert event.to == "x"
    assert event.element().findtext("{jabber:client}body") == "b"


def test_one_target_through_many_elements(impl) -> None:
    events = stanzas(impl, [HEADER + b"<a><b/></a><c>t</c>"])
    builder = ET.TreeBuilder()
    builder.start("holder", {})
    for event in events:
        event.build(builder)
    builder.end("holder")
    holder = builder.close()
    assert [child.tag for child in holder] == ["{jabber:client}a", "{jabber:client}c"]
    assert holder[1].text == "t"


def test_target_without_namespace_methods(impl) -> None:
    (event,) = stanzas(impl, [HEADER + b"<a xmlns:p='urn:p'><p:b/></a>"])
    calls: list[tuple] = []

    class Plain:
        def start(self, tag: str, attrib: dict[str, str]) -> None:
            calls.append(("start", tag))

        def data(self, text: str) -> None:
            calls.append(("data", text))

        def end(self, tag: str) -> None:
            calls.append(("end", tag))

    event.build(Plain())
    assert calls == [
        ("start", "{jabber:client}a"),
        ("start", "{urn:p}b"),
        ("end", "{urn:p}b"),
        ("end", "{jabber:client}a"),
    ]


def test_target_errors_propagate(impl) -> None:
    (event,) = stanzas(impl, [HEADER + b"<a><b/></a>"])

    class Failing(ET.TreeBuilder):
        def start(self, tag: str, attrib: dict[str, str]) -> ET.Element:
            if tag.endswith("b"):
                raise KeyError("refused")
            return super().start(tag, attrib)

    with pytest.raises(KeyError, match="refused"):
        event.build(Failing())
