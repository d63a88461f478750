"""slixmpp with xmppwire's accelerator, fed bytes as its transport would feed them.

Every test drives slixmpp's own ``ClientXMPP`` (its plugins, stanza classes
and handlers) and compares what it does with the accelerator against what it
does without: the stanza objects its handlers see, the stream header its
``start_stream_handler`` gets, what it writes back. The only intended
difference is input RFC 6120 forbids, which now ends the stream with the
condition that names the fault.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import random
import re
import ssl
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from interop import require_module
from xmppwire import Limits
from xmppwire._impl import Implementation

# slixmpp is optional: without it these tests skip, or fail under XMPPWIRE_REQUIRE_INTEROP=1.
require_module("slixmpp")

from slixmpp import ClientXMPP  # noqa: E402
from slixmpp.xmlstream.xmlstream import XMLStream  # noqa: E402

from xmppwire.integrations import slixmpp as accelerator  # noqa: E402

STREAM_ERRORS_NS = "urn:ietf:params:xml:ns:xmpp-streams"
SASL_NS = "urn:ietf:params:xml:ns:xmpp-sasl"
TLS_NS = "urn:ietf:params:xml:ns:xmpp-tls"

HEADER = (
    b"<?xml version='1.0'?><stream:stream xml:lang='en' xmlns='jabber:client'"
    b" xmlns:stream='http://etherx.jabber.org/streams' id='c2s-1' version='1.0'"
    b" from='example.com'>"
)

#: What a server sends a logged-in client: every construct ElementTree must
#: rebuild the same way (namespaces and prefixes, attributes and their
#: normalization, references, CDATA, non-ASCII, mixed content and tails),
#: with whitespace keepalives and a stray text run between stanzas.
STANZAS = [
    b"<message from='romeo@example.net/orchard' to='juliet@example.com/balcony' type='chat'"
    b" id='m1' xml:lang='en'><body>Art thou not Romeo, &amp; a Montague? &lt;3 &#x1F339;"
    b" &#233;t&#xe9;</body><thread>e0ffe42b28561960c6b12b944a092794b9683a38</thread>"
    b"<active xmlns='http://jabber.org/protocol/chatstates'/></message>",
    b"\n \t ",
    b"<presence from='nurse@example.com/kitchen' xml:lang='fr'><show>away</show>"
    b"<status>Je suis\n  <![CDATA[ <occup\xc3\xa9e> & ]]> en cuisine</status>"
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
    b"<x:event xmlns:x='urn:example:prefixed' x:kind='prefixed'><x:when>now</x:when></x:event>"
    b"<data xmlns='urn:example:deep'>" + b"<d>" * 20 + b"leaf" + b"</d>" * 20 + b"</data>"
    b"</message>",
    b"<iq type='get' id='disco1' from='romeo@example.net/orchard'"
    b" to='juliet@example.com/balcony'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>",
    b"<message from='example.com' to='juliet@example.com/balcony' id='m3' type='headline'>"
    b"<subject>Notice</subject><body/></message>",
    b"<empty xmlns=''/>",
    b"<stream:unknown-nonza/>",
    b" ",
]
CORPUS = HEADER + b"".join(STANZAS)


class RecordingTransport(asyncio.Transport):
    """The transport slixmpp writes to: keeps the bytes, remembers being closed."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default


class Client:
    """A slixmpp ``ClientXMPP`` connected to a recording transport, fed by the test."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.xmpp = ClientXMPP(
            "juliet@example.com/balcony",
            "r0m30",
            sasl_mech="PLAIN",
            # No TLS here: let PLAIN run on the recording transport.
            plugin_config={"feature_mechanisms": {"unencrypted_plain": True}},
            loop=loop,
        )
        ids = itertools.count(1)
        self.xmpp.new_id = lambda: f"id{next(ids)}"
        self.stanzas: list[tuple[str, bytes]] = []
        self.headers: list[tuple[str, dict[str, str]]] = []
        self.xmpp.add_filter("in", self._received)
        handle_header = self.xmpp.start_stream_handler

        def start_stream_handler(root: ET.Element) -> None:
            self.headers.append((root.tag, dict(root.attrib)))
            handle_header(root)

        self.xmpp.start_stream_handler = start_stream_handler
        self.transport = RecordingTransport()
        self.xmpp.connection_made(self.transport)
        # connect() starts the send queue's consumer; this stream is connected by hand.
        self.xmpp._run_out_filters = asyncio.ensure_future(self.xmpp.run_filters(), loop=loop)

    def _received(self, stanza: Any) -> Any:
        # A top-level element's tail is the whitespace between stanzas, which
        # slixmpp alone attaches or not depending on where the reads were cut;
        # the accelerator never attaches it. Everything inside is compared.
        element = stanza.xml
        tail, element.tail = element.tail, None
        self.stanzas.append((type(stanza).__name__, ET.tostring(element)))
        element.tail = tail
        return stanza

    def feed(self, *chunks: bytes | str) -> None:
        for chunk in chunks:
            self.xmpp.data_received(chunk)
            self.settle()

    def settle(self) -> None:
        async def spin() -> None:
            for _ in range(50):
                await asyncio.sleep(0)

        self.loop.run_until_complete(spin())

    def sent_elements(self) -> list[ET.Element]:
        """The top-level elements slixmpp wrote, in every stream it opened."""
        found = []
        for stream in re.split(rb"(?=<stream:stream )", bytes(self.transport.written)):
            parser = ET.XMLPullParser(("start", "end"))
            parser.feed(stream)
            depth = 0
            for event, element in parser.read_events():
                if event == "start":
                    depth += 1
                else:
                    depth -= 1
                    if depth == 1:
                        found.append(element)
        return found

    def stream_errors(self) -> list[str]:
        """The conditions of the stream errors slixmpp sent."""
        conditions = []
        for element in self.sent_elements():
            if element.tag == "{http://etherx.jabber.org/streams}error":
                conditions.extend(
                    child.tag.split("}")[1]
                    for child in element
                    if child.tag.startswith(f"{{{STREAM_ERRORS_NS}}}")
                    and not child.tag.endswith("}text")
                )
        return conditions

    @property
    def closed_stream(self) -> bool:
        return self.transport.written.endswith(b"</stream:stream>")


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        asyncio.set_event_loop(None)
        loop.close()


@contextlib.contextmanager
def accelerated(impl: Implementation, limits: Limits | None = None) -> Iterator[None]:
    accelerator.install(limits, parser_class=impl.tokenizer.StreamParser)
    try:
        yield
    finally:
        accelerator.uninstall()


def run(loop: asyncio.AbstractEventLoop, *chunks: bytes | str) -> Client:
    client = Client(loop)
    client.feed(*chunks)
    return client


def cut(data: bytes, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    points = sorted(rng.sample(range(1, len(data)), 40))
    return [data[a:b] for a, b in itertools.pairwise([0, *points, len(data)])]


# --- the same stanzas, the same header, the same answers -------------------


@pytest.mark.parametrize("chunking", ["whole", "bytewise", "cut-1", "cut-2", "per-stanza"])
def test_same_stanza_objects_and_answers_as_slixmpp(
    impl: Implementation, loop: asyncio.AbstractEventLoop, chunking: str
) -> None:
    plain = run(loop, CORPUS)
    chunks = {
        "whole": [CORPUS],
        "bytewise": [CORPUS[i : i + 1] for i in range(len(CORPUS))],
        "cut-1": cut(CORPUS, 1),
        "cut-2": cut(CORPUS, 2),
        "per-stanza": [HEADER, *STANZAS],
    }[chunking]
    with accelerated(impl):
        fast = run(loop, *chunks)
        assert isinstance(fast.xmpp.parser, impl.tokenizer.StreamParser)

    assert len(plain.stanzas) == 8
    assert fast.stanzas == plain.stanzas
    assert [kind for kind, _ in fast.stanzas] == [
        "Message",
        "Presence",
        "Iq",
        "Message",
        "Iq",
        "Message",
        "StanzaBase",
        "StanzaBase",
    ]
    assert fast.headers == plain.headers
    assert bytes(fast.transport.written) == bytes(plain.transport.written)


def test_elements_keep_text_tails_attributes_and_namespaces(
    impl: Implementation, loop: asyncio.AbstractEventLoop
) -> None:
    with accelerated(impl):
        client = run(loop, CORPUS)
    by_id = {}
    for _kind, raw in client.stanzas:
        element = ET.fromstring(raw)
        by_id[element.get("id")] = element
    body = by_id["m2"].find("{jabber:client}body")
    assert body is not None
    assert body.text == "mixed "
    assert [(child.tag, child.text, child.tail) for child in body] == [
        ("{jabber:client}b", "bold", " tail "),
        ("{jabber:client}i", "italic", " end"),
    ]
    assert by_id["m2"].get("title") == "line one\nline two and three"
    assert by_id["m2"].find("{urn:example:prefixed}event").get("{urn:example:prefixed}kind") == (
        "prefixed"
    )
    assert by_id["m1"].findtext("{jabber:client}body") == (
        "Art thou not Romeo, & a Montague? <3 \U0001f339 \xe9t\xe9"
    )


def test_header_reaches_start_stream_handler(
    impl: Implementation, loop: asyncio.AbstractEventLoop
) -> None:
    header = (
        "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client'"
        " from='example.com' id='abc&amp;123' version='1.0' xml:lang='fr'>"
    )
    with accelerated(impl):
        client = run(loop, header)  # slixmpp's own tests feed str as well as bytes
    assert client.headers == [
        (
            "{http://etherx.jabber.org/streams}stream",
            {
                "from": "example.com",
                "id": "abc&123",
                "version": "1.0",
                "{http://www.w3.org/XML/1998/namespace}lang": "fr",
            },
        )
    ]
    assert client.xmpp.stream_id == "abc&123"
    assert client.xmpp.stream_version == "1.0"
    assert client.xmpp.peer_default_lang == "fr"


def test_end_of_stream_closes_the_connection_as_before(
    impl: Implementation, loop: asyncio.AbstractEventLoop
) -> None:
    stream = HEADER + STANZAS[0] + b"</stream:stream>"
    plain = run(loop, stream)
    with accelerated(impl):
        fast = run(loop, stream)
    for client in (plain, fast):
        assert client.transport.closed
        assert client.xmpp.disconnect_reason == "End of stream"
        assert client.stream_errors() == []
    assert fast.stanzas == plain.stanzas


# --- restarts ----------------------------------------------------------------


def _login_steps(*, pipelined: bool) -> list[bytes]:
    """A PLAIN login; with ``pipelined`` the stream after <success/> comes in the same read."""
    features = (
        b"<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
        b"<mechanism>PLAIN</mechanism></mechanisms></stream:features>"
    )
    second = HEADER.replace(b"c2s-1", b"c2s-2") + (
        b"<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>"
    )
    success = b"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"
    if pipelined:
        return [HEADER + features, success + second]
    return [HEADER + features, success, second]


@pytest.mark.parametrize("pipelined", [False, True], ids=["separate", "pipelined"])
def test_restart_after_sasl_success(
    impl: Implementation, loop: asyncio.AbstractEventLoop, pipelined: bool
) -> None:
    with accelerated(impl):
        client = run(loop, *_login_steps(pipelined=pipelined))
    sent = client.sent_elements()
    auth = next(e for e in sent if e.tag == f"{{{SASL_NS}}}auth")
    assert auth.get("mechanism") == "PLAIN"
    assert base64.b64decode(auth.text or "") == b"\0juliet\0r0m30"
    assert client.xmpp.authenticated
    # The second stream's header and features reached slixmpp, which then bound.
    assert [attrs["id"] for _, attrs in client.headers] == ["c2s-1", "c2s-2"]
    assert client.xmpp.stream_id == "c2s-2"
    assert any(e.find("{urn:ietf:params:xml:ns:xmpp-bind}bind") is not None for e in sent)
    assert client.stream_errors() == []

    if not pipelined:
        plain = run(loop, *_login_steps(pipelined=False))
        assert client.stanzas == plain.stanzas
        assert bytes(client.transport.written) == bytes(plain.transport.written)


def test_nothing_behind_proceed_is_read_before_tls(
    impl: Implementation, loop: asyncio.AbstractEventLoop
) -> None:
    # Bytes injected behind <proceed/> in the same read must not be taken as
    # the stream, encrypted or not (the STARTTLS command injection attack).
    starttls = (
        b"<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/>"
        b"</starttls></stream:features>"
    )
    injected = b"<message id='injected'><body>plaintext</body></message>"
    with accelerated(impl):
        client = Client(loop)
        # The feature handler sends <starttls/> from the loop: run it.
        client.feed(HEADER + starttls)
        client.xmpp.data_received(b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>" + injected)
        client.xmpp.data_received(b"<message id='later'/>")
        parser = client.xmpp.parser
        assert parser.paused
        kinds = [ET.fromstring(raw).get("id") for _, raw in client.stanzas]
        assert "injected" not in kinds and "later" not in kinds
        assert client.stream_errors() == []
        # Once TLS is up slixmpp calls connection_made again: a new stream starts.
        client.xmpp.connection_made(client.transport, send_event=False)
        client.xmpp.data_received(HEADER.replace(b"c2s-1", b"c2s-tls") + STANZAS[0])
    assert client.xmpp.parser is not parser
    assert [attrs["id"] for _, attrs in client.headers] == ["c2s-1", "c2s-tls"]
    assert client.stanzas[-1][0] == "Message"
    assert ET.fromstring(client.stanzas[-1][1]).get("id") == "m1"


# --- what slixmpp let through, and now ends the stream -----------------------

FORBIDDEN = [
    pytest.param(b"<!-- a comment -->", "restricted-xml", id="comment"),
    pytest.param(b"<?target data?>", "restricted-xml", id="processing-instruction"),
    pytest.param(
        b"<message><body><!-- inside --></body></message>", "restricted-xml", id="comment-in-stanza"
    ),
    pytest.param(b"<message><body>&ent;</body></message>", "restricted-xml", id="undefined-entity"),
    pytest.param(
        b"<message><body>caf\xe9</body></message>", "unsupported-encoding", id="latin-1-byte"
    ),
    pytest.param(
        b"<message><body>\xc0\xaf</body></message>", "unsupported-encoding", id="overlong-utf-8"
    ),
]


@pytest.mark.parametrize(("forbidden", "condition"), FORBIDDEN)
def test_forbidden_input_ends_the_stream_with_its_condition(
    impl: Implementation, loop: asyncio.AbstractEventLoop, forbidden: bytes, condition: str
) -> None:
    before = b"<message id='before'><body>delivered</body></message>"
    after = b"<message id='after'><body>not read</body></message>"
    with accelerated(impl):
        client = run(loop, HEADER + before + forbidden + after)
        client.feed(b"<message id='later'/>", b"</stream:stream>")
    ids = [ET.fromstring(raw).get("id") for _, raw in client.stanzas]
    # What came before the fault in the same read was delivered; nothing after it.
    assert ids == ["before"]
    assert client.stream_errors() == [condition]
    assert client.closed_stream


def test_slixmpp_alone_reads_through_a_comment(loop: asyncio.AbstractEventLoop) -> None:
    # The behaviour the accelerator changes, shown on slixmpp as it is.
    client = run(loop, HEADER + b"<!-- a comment --><message id='after'/>")
    assert [ET.fromstring(raw).get("id") for _, raw in client.stanzas] == ["after"]
    assert client.stream_errors() == []


def test_oversized_stanza_is_a_policy_violation(
    impl: Implementation, loop: asyncio.AbstractEventLoop
) -> None:
    big = b"<message id='big'><body>" + b"x" * 5000 + b"</body></message>"
    plain = run(loop, HEADER + big)
    assert len(plain.stanzas) == 1
    with accelerated(impl, Limits(max_stanza_bytes=4096)):
        client = run(loop, HEADER, big[:3000], big[3000:])
    assert client.stanzas == []
    assert client.stream_errors() == ["policy-violation"]


def test_malformed_xml_is_not_well_formed_as_before(
    impl: Implementation, loop: asyncio.AbstractEventLoop
) -> None:
    broken = HEADER + b"<message><body>a</bodx></message>"
    plain = run(loop, broken)
    with accelerated(impl):
        fast = run(loop, broken)
    assert fast.stream_errors() == ["not-well-formed"]
    assert fast.closed_stream
    # slixmpp sends the same condition, in an element it names <stream:stream:error>.
    assert b"<stream:stream:error" in plain.transport.written
    assert b'<not-well-formed xmlns="urn:ietf:params:xml:ns:xmpp-streams"' in (
        plain.transport.written
    )


def test_bad_header_is_answered_with_its_condition(
    impl: Implementation, loop: asyncio.AbstractEventLoop
) -> None:
    latin = b"<?xml version='1.0' encoding='ISO-8859-1'?>" + HEADER[len(b"<?xml version='1.0'?>") :]
    wrong_ns = HEADER.replace(b"http://etherx.jabber.org/streams", b"urn:example:not-streams")
    bad_version = HEADER.replace(b"version='1.0' from", b"version='one' from")
    for header in (latin, wrong_ns, bad_version):
        # slixmpp alone takes each of them for a stream and reads on.
        plain = run(loop, header + STANZAS[0])
        assert len(plain.headers) == 1 and len(plain.stanzas) == 1
        assert plain.stream_errors() == []
    with accelerated(impl):
        assert run(loop, latin).stream_errors() == ["unsupported-encoding"]
        assert run(loop, wrong_ns).stream_errors() == ["invalid-namespace"]
        client = run(loop, bad_version + STANZAS[0])
        assert client.stream_errors() == ["unsupported-version"]
        assert client.headers == [] and client.stanzas == []


# --- install, uninstall, mixin --------------------------------------------------


def test_uninstall_restores_slixmpp_exactly(
    impl: Implementation, loop: asyncio.AbstractEventLoop
) -> None:
    before = dict(vars(XMLStream))
    accelerator.install(parser_class=impl.tokenizer.StreamParser)
    accelerator.install(parser_class=impl.tokenizer.StreamParser)  # twice: no stacking
    assert accelerator.installed()
    assert vars(XMLStream)["data_received"] is not before["data_received"]
    assert vars(XMLStream)["init_parser"] is not before["init_parser"]
    accelerator.uninstall()
    assert not accelerator.installed()
    assert dict(vars(XMLStream)) == before
    for name, value in before.items():
        assert vars(XMLStream)[name] is value
    client = run(loop, CORPUS)
    assert isinstance(client.xmpp.parser, ET.XMLPullParser)
    assert len(client.stanzas) == 8


def test_mixin_accelerates_one_class_only(
    impl: Implementation, loop: asyncio.AbstractEventLoop
) -> None:
    made: list[Any] = []

    def make_parser(**kwargs: Any) -> Any:
        # A plain function as the factory: it must not be bound as a method.
        made.append(impl.tokenizer.StreamParser(**kwargs))
        return made[-1]

    class FastClient(accelerator.XMPPWireStream, ClientXMPP):
        xmppwire_parser_class = make_parser
        xmppwire_limits = Limits(max_stanza_bytes=100_000)

    fast = FastClient("juliet@example.com/balcony", "r0m30", loop=loop)
    fast.connection_made(RecordingTransport())
    assert made == [fast.parser]
    assert fast.parser.limits.max_stanza_bytes == 100_000
    assert fast.parser.pause_after == accelerator.RESTART_POINTS
    received: list[str] = []
    fast.add_filter("in", lambda stanza: received.append(stanza["id"]) or stanza)
    fast.data_received(CORPUS)
    assert "m1" in received and "disco1" in received
    assert not accelerator.installed()
    assert isinstance(run(loop, HEADER).xmpp.parser, ET.XMLPullParser)


def test_stream_set_up_before_install_keeps_its_parser(
    impl: Implementation, loop: asyncio.AbstractEventLoop
) -> None:
    client = Client(loop)
    with accelerated(impl):
        client.feed(CORPUS)
        assert isinstance(client.xmpp.parser, ET.XMLPullParser)
        assert len(client.stanzas) == 8
        client.xmpp.init_parser()  # a restart switches it over
        assert isinstance(client.xmpp.parser, impl.tokenizer.StreamParser)


# --- a real STARTTLS and SASL over a loopback socket -------------------------


class LoopbackServer:
    """Just enough of an XMPP server to log a client in: STARTTLS, PLAIN, bind."""

    def __init__(self, server_context: ssl.SSLContext) -> None:
        self.context = server_context
        self.buffer = b""
        self.received_after_login: list[bytes] = []

    async def read_until(self, reader: asyncio.StreamReader, marker: bytes) -> bytes:
        while marker not in self.buffer:
            chunk = await asyncio.wait_for(reader.read(65536), 10)
            if not chunk:
                raise ConnectionError(f"client closed while we waited for {marker!r}")
            self.buffer += chunk
        head, _, self.buffer = self.buffer.partition(marker)
        return head + marker

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        header = HEADER.replace(b"from='example.com'", b"from='example.com'")
        await self.read_until(reader, b"version='1.0'>")
        writer.write(
            header + b"<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>"
            b"<required/></starttls></stream:features>"
        )
        await self.read_until(reader, b"/>")
        writer.write(b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        await writer.drain()
        await writer.start_tls(self.context)
        await self.read_until(reader, b"version='1.0'>")
        writer.write(
            header.replace(b"c2s-1", b"c2s-tls") + b"<stream:features>"
            b"<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
            b"<mechanism>PLAIN</mechanism></mechanisms></stream:features>"
        )
        auth = await self.read_until(reader, b"</auth>")
        assert base64.b64encode(b"\0juliet\0r0m30") in auth
        writer.write(b"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
        await self.read_until(reader, b"version='1.0'>")
        writer.write(
            header.replace(b"c2s-1", b"c2s-authed") + b"<stream:features>"
            b"<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>"
        )
        bind = await self.read_until(reader, b"</iq>")
        iq_id = ET.fromstring(bind[bind.index(b"<iq") :]).get("id", "")
        writer.write(
            f"<iq type='result' id='{iq_id}'><bind xmlns='urn:ietf:params:xml:ns:"
            "xmpp-bind'><jid>juliet@example.com/balcony</jid></bind></iq>".encode()
        )
        writer.write(STANZAS[0] + b"<message id='second'><body>two</body></message>")
        await self.read_until(reader, b"</stream:stream>")
        writer.write(b"</stream:stream>")
        await writer.drain()
        writer.close()


@pytest.mark.asyncio
@pytest.mark.parametrize("with_accelerator", [True, False], ids=["xmppwire", "slixmpp"])
async def test_login_with_real_starttls_on_loopback(
    impl: Implementation, tmp_path: Path, with_accelerator: bool
) -> None:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("example.com").configure_cert(server_context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server = LoopbackServer(server_context)
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]

    context = accelerated(impl) if with_accelerator else contextlib.nullcontext()
    with context:
        xmpp = ClientXMPP("juliet@example.com/balcony", "r0m30", sasl_mech="PLAIN")
        xmpp.ca_certs = ca_file
        xmpp.enable_direct_tls = False  # STARTTLS only, as this server speaks it
        messages: asyncio.Queue[Any] = asyncio.Queue()
        ended: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        started = asyncio.Event()
        xmpp.add_event_handler("session_start", lambda _: started.set())
        xmpp.add_event_handler("message", messages.put_nowait)
        xmpp.add_event_handler(
            "disconnected", lambda reason: ended.done() or ended.set_result(reason)
        )
        xmpp.connect("127.0.0.1", port)
        try:
            await asyncio.wait_for(started.wait(), 10)
            first = await asyncio.wait_for(messages.get(), 10)
            second = await asyncio.wait_for(messages.get(), 10)
            assert xmpp.transport.get_extra_info("ssl_object") is not None
            assert xmpp.stream_id == "c2s-authed"
            expected = impl.tokenizer.StreamParser if with_accelerator else ET.XMLPullParser
            assert isinstance(xmpp.parser, expected)
            assert first["id"] == "m1" and second["body"] == "two"
            await xmpp.disconnect(wait=5)
            assert await asyncio.wait_for(ended, 10) == "End of stream"
        finally:
            if xmpp.transport is not None:
                xmpp.abort()
            listener.close()
            await listener.wait_closed()
