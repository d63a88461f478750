"""Twisted Words with xmppwire's accelerator, fed bytes as its transport would feed them.

The trees are compared with what twisted's own expat stream builds from the
same bytes, attribute by attribute; the XMPP tests drive twisted's own
``XmlStream``, authenticators and observers over twisted's ``StringTransport``.
The only intended difference is input RFC 6120 forbids, which now ends the
stream with the condition that names the fault.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import itertools
import random
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis.strategies import data as st_data

from interop import require_module
from xmppwire import Limits
from xmppwire._impl import Implementation
from xmppwire.bench.corpus import CORPORA, generate

# twisted is optional: without it these tests skip, or fail under XMPPWIRE_REQUIRE_INTEROP=1.
require_module("twisted")

from twisted.internet.testing import StringTransport  # noqa: E402
from twisted.words.protocols.jabber import xmlstream as jabber_xmlstream  # noqa: E402
from twisted.words.xish import domish, xmlstream  # noqa: E402

from xmppwire.integrations import twisted as accelerator  # noqa: E402


def sibling_module(relative: str) -> ModuleType:
    """A helper module from another test directory, each of which is its own import root."""
    path = Path(__file__).resolve().parents[1] / relative
    if path.stem not in sys.modules:
        spec = importlib.util.spec_from_file_location(path.stem, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module
        spec.loader.exec_module(module)
    return sys.modules[path.stem]


strategies = sibling_module("tokenizer/strategies.py")
split_at = sibling_module("tokenizer/xmpp_samples.py").split_at

STREAMS_NS = "http://etherx.jabber.org/streams"
STREAM_ERRORS_NS = "urn:ietf:params:xml:ns:xmpp-streams"
SASL_NS = "urn:ietf:params:xml:ns:xmpp-sasl"
TLS_NS = "urn:ietf:params:xml:ns:xmpp-tls"

HEADER = (
    b"<?xml version='1.0'?><stream:stream xml:lang='en' xmlns='jabber:client'"
    b" xmlns:stream='http://etherx.jabber.org/streams' id='c2s-1' version='1.0'"
    b" from='example.com' xmlns:db='jabber:server:dialback'>"
)

#: Every construct the tree must come out of the same way: default and prefixed
#: namespaces declared, redeclared and undeclared, namespaced attributes (xml:lang
#: and others) mixed with plain ones, references, CDATA, line ends, non-ASCII,
#: mixed content, deep nesting; with keepalives and stray text between stanzas.
STANZAS = [
    b"<message from='romeo@example.net/orchard' to='juliet@example.com/balcony' type='chat'"
    b" id='m1' xml:lang='en'><body>Art thou not Romeo, &amp; a Montague? &lt;3 &#x1F339;"
    b" &#233;t&#xe9;</body><thread>e0ffe42b28561960c6b12b944a092794b9683a38</thread>"
    b"<active xmlns='http://jabber.org/protocol/chatstates'/></message>",
    b"\n \t ",
    b"<presence from='nurse@example.com/kitchen' xml:lang='fr'><show>away</show>"
    b"<status>Je suis\r\n  <![CDATA[ <occup\xc3\xa9e> & ]]> en cuisine\r</status>"
    b"<priority>-1</priority><c xmlns='http://jabber.org/protocol/caps' hash='sha-1'"
    b" node='https://example.org' ver='QgayPKawpkPSDYmwT/WM94uAlu0='/>"
    b"<x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='none' role='participant'"
    b" jid='nurse@example.com/kitchen'/></x></presence>",
    b"<iq type='result' id='roster1' to='juliet@example.com/balcony'>"
    b"<query xmlns='jabber:iq:roster' ver='ver7'>"
    b"<item jid='romeo@example.net' name='Romeo' subscription='both'><group>Friends</group>"
    b"<group>Montague</group></item>"
    b"<item jid='\xe6\x97\xa5\xe6\x9c\xac@example.jp' name='\xe6\x97\xa5\xe6\x9c\xac'"
    b" subscription='to'/></query></iq>",
    b"stray text ",
    b"<message from='benvolio@example.net/street' to='juliet@example.com/balcony' id='m2'"
    b" title='line one&#10;line two\tand\r\nthree'>"
    b"<body>mixed <b>bold</b> tail <i>italic</i> end</body>"
    b"<x:event xmlns:x='urn:example:prefixed' x:kind='prefixed' plain='1' xml:lang='de'"
    b" last='2'><x:when>now</x:when><y:z xmlns:y='urn:y' xmlns='urn:d'><w/></y:z></x:event>"
    b"<data xmlns='urn:example:deep'>" + b"<d>" * 20 + b"leaf" + b"</d>" * 20 + b"</data>"
    b"</message>",
    b"<db:result from='example.net' to='example.com'>b4835385f37fe2895af6c196b59097b16862406db"
    b"</db:result>",
    b"<message xmlns='jabber:server' from='a@example.net' to='b@example.com'>"
    b"<body>in another default namespace</body></message>",
    b"<empty xmlns=''><child/><p:q xmlns:p='urn:p'><r/></p:q><n xmlns='urn:n'/></empty>",
    b"<outer xmlns='urn:o'><mid xmlns=''><in/></mid><p:mid xmlns:p='urn:o'/></outer>",
    b"<stream:unknown-nonza/>",
    b"<iq type='get' id='disco1'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>",
    b" ",
]
CORPUS = HEADER + b"".join(STANZAS) + b"</stream:stream>"


def shape(node: Any) -> Any:
    """Everything twisted's trees hold, attribute order included, as plain values."""
    if isinstance(node, str):
        return node
    assert type(node) is domish.Element
    parent = node.parent
    return {
        "uri": node.uri,
        "name": node.name,
        "defaultUri": node.defaultUri,
        "attributes": list(node.attributes.items()),
        "localPrefixes": node.localPrefixes,
        "children": [shape(child) for child in node.children],
        "parent": None if parent is None else (parent.uri, parent.name),
        "fields": list(vars(node)),
    }


def parse_all(stream: Any, chunks: list[bytes]) -> list[Any]:
    """What a stream hands its three handlers, in order."""
    seen: list[Any] = []
    stream.DocumentStartEvent = lambda root: seen.append(("start", shape(root)))
    stream.ElementEvent = lambda element: seen.append(shape(element))
    stream.DocumentEndEvent = lambda: seen.append("end")
    for chunk in chunks:
        stream.parse(chunk)
    return seen


def cut(data: bytes, seed: int, pieces: int = 40) -> list[bytes]:
    rng = random.Random(seed)
    points = sorted(rng.sample(range(1, len(data)), pieces))
    return [data[a:b] for a, b in itertools.pairwise([0, *points, len(data)])]


CHUNKINGS = {
    "whole": lambda data: [data],
    "bytewise": lambda data: [data[i : i + 1] for i in range(len(data))],
    "cut-1": lambda data: cut(data, 1),
    "cut-2": lambda data: cut(data, 2),
}


def trees(impl: Implementation) -> ModuleType:
    """The tree builder twin that goes with an implementation."""
    return importlib.import_module(
        f"xmppwire._domish_trees_{'c' if impl.name == 'cython' else 'py'}"
    )


def new_stream(impl: Implementation) -> accelerator.XMPPWireElementStream:
    return accelerator.XMPPWireElementStream(
        parser_class=impl.tokenizer.StreamParser, tree_target=trees(impl).DomishTarget
    )


@contextlib.contextmanager
def accelerated(impl: Implementation, limits: Limits | None = None) -> Iterator[None]:
    accelerator.install(
        limits, parser_class=impl.tokenizer.StreamParser, tree_target=trees(impl).DomishTarget
    )
    try:
        yield
    finally:
        accelerator.uninstall()


# --- the same trees as twisted's expat stream -------------------------------


@pytest.mark.parametrize("chunking", list(CHUNKINGS))
def test_same_trees_as_twisted(impl: Implementation, chunking: str) -> None:
    chunks = CHUNKINGS[chunking](CORPUS)
    expected = parse_all(domish.ExpatElementStream(), chunks)
    got = parse_all(new_stream(impl), chunks)
    assert got == expected
    # Header, every stanza (not the whitespace or stray text), end.
    assert len(got) == 1 + 10 + 1


@pytest.mark.parametrize("name", CORPORA)
def test_same_trees_as_twisted_on_the_bench_corpora(impl: Implementation, name: str) -> None:
    data = generate(name, 100_000).data + b"</stream:stream>"
    chunks = cut(data, 3, 200)
    expected = parse_all(domish.ExpatElementStream(), chunks)
    got = parse_all(new_stream(impl), chunks)
    assert got == expected
    assert len(got) > 50


@pytest.mark.hypothesis
@settings(max_examples=400, deadline=None)
@given(stream=strategies.streams(), data=st_data())
def test_same_trees_as_twisted_on_generated_streams(
    impl: Implementation, stream: Any, data: Any
) -> None:
    chunks = split_at(stream.data, data.draw(strategies.split_points(stream.data), label="cuts"))
    expected = parse_all(domish.ExpatElementStream(), chunks)
    got = parse_all(new_stream(impl), chunks)
    assert got == expected


def test_header_element_is_twisteds_root() -> None:
    roots: list[domish.Element] = []
    stream = accelerator.XMPPWireElementStream()
    stream.DocumentStartEvent = roots.append
    stream.parse(HEADER)
    (root,) = roots
    assert (root.uri, root.name, root.defaultUri) == (STREAMS_NS, "stream", "jabber:client")
    assert root.attributes == {
        ("http://www.w3.org/XML/1998/namespace", "lang"): "en",
        "id": "c2s-1",
        "version": "1.0",
        "from": "example.com",
    }
    # twisted's order: plain attributes first, then the namespaced ones.
    assert list(root.attributes)[-1] == ("http://www.w3.org/XML/1998/namespace", "lang")
    assert root.localPrefixes == {"stream": STREAMS_NS, "db": "jabber:server:dialback"}
    assert root.children == []


def test_str_input_is_parsed_as_utf8() -> None:
    chunks = [CORPUS.decode("utf-8")]
    assert parse_all(accelerator.XMPPWireElementStream(), chunks) == parse_all(
        domish.ExpatElementStream(), chunks
    )


# --- twisted's XmlStream, through install() ---------------------------------


class Stream:
    """A twisted XMPP ``XmlStream`` (client side) on a ``StringTransport``."""

    def __init__(self) -> None:
        authenticator = jabber_xmlstream.ConnectAuthenticator("example.com")
        authenticator.namespace = "jabber:client"
        self.xs = jabber_xmlstream.XmlStream(authenticator)
        self.stanzas: list[domish.Element] = []
        self.errors: list[Any] = []
        self.ended: list[Any] = []
        self.xs.addObserver("/*", self.stanzas.append)
        self.xs.addObserver(xmlstream.STREAM_ERROR_EVENT, self.errors.append)
        self.xs.addObserver(xmlstream.STREAM_END_EVENT, self.ended.append)
        self.transport = StringTransport()
        self.xs.makeConnection(self.transport)

    def feed(self, *chunks: bytes | str) -> None:
        for chunk in chunks:
            self.xs.dataReceived(chunk)

    def stream_errors(self) -> list[str]:
        """The conditions of the stream errors twisted sent."""
        written = self.transport.value()
        sent: list[domish.Element] = []
        reader = domish.ExpatElementStream()
        reader.DocumentStartEvent = lambda root: None
        reader.ElementEvent = sent.append
        reader.DocumentEndEvent = lambda: None
        reader.parse(written)
        return [
            child.name
            for element in sent
            if (element.uri, element.name) == (STREAMS_NS, "error")
            for child in element.elements()
            if child.uri == STREAM_ERRORS_NS and child.name != "text"
        ]

    @property
    def dropped(self) -> bool:
        return self.transport.disconnecting


def test_install_makes_xmlstream_use_xmppwire(impl: Implementation) -> None:
    with accelerated(impl):
        stream = Stream()
        assert isinstance(stream.xs.stream, accelerator.XMPPWireElementStream)
        stream.feed(*cut(CORPUS, 7))
    plain = Stream()
    assert type(plain.xs.stream) is domish.ExpatElementStream
    plain.feed(*cut(CORPUS, 7))
    assert [shape(s) for s in stream.stanzas] == [shape(s) for s in plain.stanzas]
    # The header set the stream's state as twisted's parser would.
    assert (stream.xs.sid, stream.xs.version) == ("c2s-1", (1, 0))
    assert stream.xs.otherEntity.full() == "example.com"
    # </stream:stream> closes the connection, as before.
    assert stream.dropped and plain.dropped
    assert stream.errors == plain.errors == []


def test_observers_read_the_stanza(impl: Implementation) -> None:
    bodies: list[tuple[str, str, str]] = []
    with accelerated(impl):
        stream = Stream()
    stream.xs.addObserver(
        "/message/body",
        lambda m: bodies.append((m["from"], m.getAttribute("to"), str(m.body))),
    )
    stream.feed(HEADER, STANZAS[0])
    assert bodies == [
        (
            "romeo@example.net/orchard",
            "juliet@example.com/balcony",
            "Art thou not Romeo, & a Montague? <3 \U0001f339 été",
        )
    ]


def test_restart_after_sasl_success_reads_the_new_stream(impl: Implementation) -> None:
    with accelerated(impl):
        stream = Stream()
    restarted: list[Any] = []

    def on_success(element: domish.Element) -> None:
        restarted.append(element)
        stream.xs.reset()  # what twisted's SASL initializer does

    stream.xs.addOnetimeObserver(f"/success[@xmlns='{SASL_NS}']", on_success)
    second_header = HEADER.replace(b"c2s-1", b"c2s-2")
    stream.feed(
        HEADER,
        f"<success xmlns='{SASL_NS}'/>".encode() + second_header + b"<message id='after'/>",
    )
    assert len(restarted) == 1
    assert stream.xs.sid == "c2s-2"
    assert [s.getAttribute("id") for s in stream.stanzas][-1] == "after"
    assert not stream.dropped


def test_nothing_behind_proceed_is_read_before_tls(impl: Implementation) -> None:
    with accelerated(impl):
        stream = Stream()
    stream.xs.addOnetimeObserver(f"/proceed[@xmlns='{TLS_NS}']", lambda e: stream.xs.reset())
    injected = b"<message id='injected' from='attacker@example.net'><body>hi</body></message>"
    stream.feed(HEADER, f"<proceed xmlns='{TLS_NS}'/>".encode() + HEADER + injected)
    assert "injected" not in [s.getAttribute("id") for s in stream.stanzas]
    # The new stream is untouched: the real header is still to come.
    stream.feed(HEADER.replace(b"c2s-1", b"tls-1"), b"<message id='secure'/>")
    assert stream.xs.sid == "tls-1"
    assert [s.getAttribute("id") for s in stream.stanzas][-1] == "secure"


FORBIDDEN = {
    "comment": (b"<message><!-- hidden --><body/></message>", "restricted-xml"),
    "processing instruction": (b"<?evil x?>", "restricted-xml"),
    "internal entity": (b"<message><body>&custom;</body></message>", "restricted-xml"),
}


@pytest.mark.parametrize("case", list(FORBIDDEN))
def test_forbidden_input_ends_the_stream_with_its_condition(
    impl: Implementation, case: str
) -> None:
    data, condition = FORBIDDEN[case]
    with accelerated(impl):
        stream = Stream()
    stream.feed(HEADER, STANZAS[0])
    stream.feed(data)
    assert stream.stream_errors() == [condition]
    assert stream.transport.value().endswith(b"</stream:stream>")
    assert stream.dropped
    # twisted's own error path ran too, with the condition on the failure.
    (failure,) = stream.errors
    assert failure.check(domish.ParserError)
    assert failure.value.condition == condition


def test_twisted_alone_reads_through_a_comment() -> None:
    stream = Stream()
    stream.feed(HEADER, b"<message id='c'><!-- hidden --><body/></message>")
    assert [s.getAttribute("id") for s in stream.stanzas] == ["c"]
    assert not stream.dropped


def test_oversized_stanza_is_a_policy_violation(impl: Implementation) -> None:
    with accelerated(impl, Limits(max_stanza_bytes=1024)):
        stream = Stream()
    stream.feed(HEADER, b"<message><body>" + b"x" * 600)
    assert not stream.dropped
    stream.feed(b"y" * 600)
    assert stream.stream_errors() == ["policy-violation"]
    assert stream.dropped


def test_malformed_xml_takes_twisteds_own_path(impl: Implementation) -> None:
    with accelerated(impl):
        stream = Stream()
    stream.feed(HEADER, b"<message><body></message>")
    (failure,) = stream.errors
    assert type(failure.value) is domish.ParserError
    # As without the accelerator: no stream error, the connection is dropped.
    assert stream.stream_errors() == []
    assert stream.dropped
    plain = Stream()
    plain.feed(HEADER, b"<message><body></message>")
    assert type(plain.errors[0].value) is domish.ParserError and plain.dropped


@pytest.mark.parametrize(
    ("header", "condition"),
    [
        (b"<stream:stream xmlns:stream='urn:wrong' xmlns='jabber:client'>", "invalid-namespace"),
        (HEADER.replace(b"id='c2s-1' version='1.0'", b"version='one'"), "unsupported-version"),
        ("<?xml version='1.0' encoding='UTF-16'?>".encode("utf-16"), "unsupported-encoding"),
        # twisted alone expands the entity declared here.
        (
            HEADER[:21] + b"<!DOCTYPE stream:stream [<!ENTITY e 'x'>]>" + HEADER[21:],
            "restricted-xml",
        ),
    ],
    ids=["wrong-namespace", "bad-version", "utf-16", "dtd"],
)
def test_bad_header_is_answered_with_its_condition(
    impl: Implementation, header: bytes, condition: str
) -> None:
    with accelerated(impl):
        stream = Stream()
    stream.feed(header)
    assert stream.stream_errors() == [condition]
    assert stream.dropped


def test_generic_xml_stream_of_another_document_goes_to_twisted(impl: Implementation) -> None:
    """A xish XmlStream is generic XML: a document that isn't XMPP is twisted's business."""
    with accelerated(impl):
        xs = xmlstream.XmlStream()
        xs.makeConnection(StringTransport())
    elements: list[domish.Element] = []
    xs.addObserver("/*", elements.append)
    xs.dataReceived(b"<root xmlns='urn:r'><child a='1'/><!-- fine here -->")
    assert isinstance(xs.stream, accelerator.XMPPWireElementStream)
    assert [(e.uri, e.name, e.attributes) for e in elements] == [("urn:r", "child", {"a": "1"})]


def test_uninstall_restores_twisted_exactly(impl: Implementation) -> None:
    original = domish.elementStream
    with accelerated(impl):
        assert accelerator.installed()
        assert domish.elementStream is not original
    assert domish.elementStream is original
    assert not accelerator.installed()
    assert type(Stream().xs.stream) is domish.ExpatElementStream


def test_accelerate_factory_accelerates_its_streams_only() -> None:
    factory = jabber_xmlstream.XmlStreamServerFactory(jabber_xmlstream.ListenAuthenticator)
    other = jabber_xmlstream.XmlStreamServerFactory(jabber_xmlstream.ListenAuthenticator)
    assert accelerator.accelerate_factory(factory) is factory
    for made, kind in (
        (factory, accelerator.XMPPWireElementStream),
        (other, domish.ExpatElementStream),
    ):
        xs = made.buildProtocol(None)
        xs.makeConnection(StringTransport())
        assert type(xs.stream) is kind
        xs.reset()  # a restart keeps the choice
        assert type(xs.stream) is kind


def test_name_caches_stay_bounded_and_exact(impl: Implementation) -> None:
    """A peer making up element and attribute names can't grow the caches for ever."""
    made_up = b"".join(
        b"<m%d xmlns='urn:n%d' a%d='1' xml:lang='en'><c%d b%d='2'/></m%d>" % ((n,) * 6)
        for n in range(5000)
    )
    chunks = cut(HEADER + made_up, 4, 100)
    expected = parse_all(domish.ExpatElementStream(), chunks)
    got = parse_all(new_stream(impl), chunks)
    assert got == expected
    tags, attributes = trees(impl).cache_sizes()
    assert 0 < tags <= trees(impl).CACHE_LIMIT
    assert 0 < attributes <= trees(impl).CACHE_LIMIT


def test_receiving_entity_reads_on_after_a_success_element(impl: Implementation) -> None:
    """Only the initiating entity restarts at <success/>: a server reads on."""
    with accelerated(impl):
        xs = jabber_xmlstream.XmlStream(jabber_xmlstream.ListenAuthenticator())
        xs.makeConnection(StringTransport())
    stanzas: list[domish.Element] = []
    xs.addObserver("/*", stanzas.append)
    xs.dataReceived(HEADER + f"<success xmlns='{SASL_NS}'/>".encode() + b"<message id='next'/>")
    xs.dataReceived(b"<message id='later'/>")
    assert [(s.name, s.getAttribute("id")) for s in stanzas] == [
        ("success", None),
        ("message", "next"),
        ("message", "later"),
    ]


def test_every_element_owns_its_attributes_and_children(impl: Implementation) -> None:
    """Changing one stanza (as handlers do, e.g. to answer it) never changes another."""
    elements: list[domish.Element] = []
    stream = new_stream(impl)
    stream.DocumentStartEvent = lambda root: None
    stream.ElementEvent = elements.append
    stream.parse(HEADER + b"<a/><b/><c x='1'><d/><e/></c>")
    every = [e for top in elements for e in (top, *top.elements())]
    assert len(every) == 5
    assert len({id(e.attributes) for e in every}) == 5
    assert len({id(e.children) for e in every}) == 5
    assert len({id(e.localPrefixes) for e in every}) == 5
    every[0]["to"] = "changed"
    assert [e.attributes for e in every] == [{"to": "changed"}, {}, {"x": "1"}, {}, {}]


def test_standalone_documents_parsed_with_element_stream_keep_working(
    impl: Implementation,
) -> None:
    """Code that parses a lone document through domish.elementStream() (wokkel's
    parseXml does) gets twisted's result: such a document is not an XMPP stream."""

    def parse_document(text: str) -> domish.Element:
        roots: list[domish.Element] = []
        stream = domish.elementStream()
        stream.DocumentStartEvent = roots.append
        stream.ElementEvent = lambda element: roots[0].addChild(element)
        stream.DocumentEndEvent = lambda: None
        stream.parse(text)
        return roots[0]

    document = (
        "<message xmlns='jabber:client' to='a@example.com'><!-- kept -->"
        "<body>hi &amp; bye</body><x xmlns='urn:x'/></message>"
    )
    expected = parse_document(document).toXml()
    with accelerated(impl):
        assert isinstance(domish.elementStream(), accelerator.XMPPWireElementStream)
        assert parse_document(document).toXml() == expected


def test_tree_target_refuses_a_class_with_its_own_new(impl: Implementation) -> None:
    class Special(domish.Element):
        def __new__(cls, *args: Any) -> Any:
            return super().__new__(cls)

    with pytest.raises(TypeError, match="must not define __new__"):
        trees(impl).DomishTarget(Special, "jabber:client")
