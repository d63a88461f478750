"""nbxmpp with xmppwire's accelerator, compared with nbxmpp alone.

The parser tests feed the same bytes, cut the same ways, to nbxmpp's
``NodeBuilder`` and to the accelerator's stand-in, and compare every ``Node``
they hand the dispatcher, attribute by attribute (name, namespace, attrs,
data, kids, namespace declarations and lookup caches) and serialized. The
dispatcher test runs nbxmpp's own ``StanzaDispatcher`` and handlers. Input RFC
6120 forbids is sent by a real socket server to a real nbxmpp client. JIDs are
compared with nbxmpp's own answers over generated and real ones.
"""

from __future__ import annotations

import importlib
import logging
import random
import re
import socket
import string
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

import pytest

from interop import require_module
from xmppwire import Limits
from xmppwire._impl import Implementation
from xmppwire.bench import corpus
from xmppwire.bench.corpus import generate

require_module("nbxmpp")

from gi.repository import GLib  # noqa: E402
from nbxmpp.client import Client  # noqa: E402
from nbxmpp.const import ConnectionProtocol, ConnectionType, StreamError  # noqa: E402
from nbxmpp.dispatcher import StanzaDispatcher  # noqa: E402
from nbxmpp.protocol import JID, InvalidJid  # noqa: E402
from nbxmpp.simplexml import Node, NodeBuilder  # noqa: E402
from nbxmpp.structs import StanzaHandler  # noqa: E402

from xmppwire.integrations import nbxmpp as accelerator  # noqa: E402

STREAM_ERRORS_NS = "urn:ietf:params:xml:ns:xmpp-streams"
HEADER = (
    b"<?xml version='1.0'?><stream:stream xml:lang='en' xmlns='jabber:client'"
    b" xmlns:stream='http://etherx.jabber.org/streams' id='c2s-1' version='1.0'"
    b" from='example.com'>"
)
#: Every construct NodeBuilder must rebuild the same way: prefixes declared on
#: the header and inside stanzas, prefixed attributes, xml:lang, references,
#: CDATA, non-ASCII, mixed content, deep nesting, undeclared default namespace.
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
    b"<x:event xmlns:x='urn:example:prefixed' x:kind='prefixed'><x:when>now</x:when>"
    b"<y><x:deeper/><z xmlns:x='urn:example:other'><x:other/></z></y></x:event>"
    b"<data xmlns='urn:example:deep'>" + b"<d>" * 20 + b"leaf" + b"</d>" * 20 + b"</data>"
    b"</message>",
    b"<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/>"
    b"</starttls><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
    b"<mechanism>PLAIN</mechanism></mechanisms></stream:features>",
    b"<message from='example.com' to='juliet@example.com/balcony' id='m3' type='headline'>"
    b"<subject>Notice</subject><body/></message>",
    b"<empty xmlns=''><inner/>text</empty>",
    b"<stream:unknown-nonza/>",
    b" ",
]
CORPUS = HEADER + b"".join(STANZAS)
TRANSCRIPT = Path(__file__).parents[1] / "data" / "prosody-0.12-c2s-transcript.txt"


@pytest.fixture(autouse=True)
def _uninstalled() -> Iterator[None]:
    yield
    accelerator.uninstall()


def snapshot(node: Node) -> dict[str, Any]:
    """Everything a Node holds, its children too; the parent link as the parent's name."""
    fields = dict(vars(node))
    parent = fields.pop("parent")
    fields["parent"] = None if parent is None else parent.name
    fields["kids"] = [snapshot(kid) for kid in node.kids]
    return fields


class Recorder:
    """Each Node dispatched, as it is then: its snapshot and its serialization, canonical.

    Attributes compare as dicts: a namespace declaration after other
    attributes (Prosody writes ``<c ver=.. xmlns=..>``) comes first with the
    accelerator, which changes ``str(node)`` but not the C14N form.
    """

    def __init__(self) -> None:
        self.nodes: list[tuple[dict[str, Any], str]] = []
        self.serialized: list[str] = []

    def __call__(self, node: Node) -> None:
        text = str(node)
        self.serialized.append(text)
        if node.name == "stream":
            text = text.replace(" />", "></stream>") if text.endswith(" />") else text
        self.nodes.append((snapshot(node), ET.canonicalize(text)))


def cut(data: bytes, size: int) -> list[str]:
    """Chunks of about ``size`` bytes, cut on character boundaries as nbxmpp's transport does."""
    text = data.decode()
    return [text[i : i + size] for i in range(0, len(text), size)]


def with_node_builder(chunks: list[str]) -> tuple[list[Any], NodeBuilder]:
    builder = NodeBuilder(dispatch_depth=2, finished=False)
    recorder = Recorder()
    builder.dispatch = recorder
    for chunk in chunks:
        builder.Parse(chunk)
    builder.serialized = recorder.serialized  # type: ignore[attr-defined]
    return recorder.nodes, builder


def install(impl: Implementation, limits: Limits | None = None) -> None:
    """The accelerator with both twins of one implementation: its parser and its Node builder."""
    module = importlib.import_module(
        f"xmppwire._nbxmpp_nodes_{'c' if impl.name == 'cython' else 'py'}"
    )
    accelerator.install(
        limits, parser_class=impl.tokenizer.StreamParser, node_target=module.NodeTarget
    )


def with_accelerator(chunks: list[str], impl: Implementation) -> tuple[list[Any], Any]:
    install(impl)
    dispatcher = StanzaDispatcher(Client())
    dispatcher.reset_parser()
    parser = dispatcher._parser
    assert isinstance(parser, accelerator.XMPPWireNodeParser)
    recorder = Recorder()
    parser.dispatch = recorder
    for chunk in chunks:
        parser.Parse(chunk)
    parser.serialized = recorder.serialized
    return recorder.nodes, parser


@pytest.mark.parametrize("size", [1, 7, 64, 4096])
def test_same_nodes_as_node_builder(impl: Implementation, size: int) -> None:
    chunks = cut(CORPUS, size)
    expected, builder = with_node_builder(chunks)
    got, parser = with_accelerator(chunks, impl)
    assert len(got) == 1 + sum(1 for s in STANZAS if s.startswith(b"<"))
    assert got == expected
    # Declarations come first in every element here: the very same text.
    assert parser.serialized == builder.serialized


@pytest.mark.parametrize("name", ["small", "mix"])
def test_same_nodes_on_the_bench_corpora(impl: Implementation, name: str) -> None:
    chunks = cut(generate(name, 60_000).data, 4096)
    expected, _ = with_node_builder(chunks)
    got, _ = with_accelerator(chunks, impl)
    assert len(got) > 20
    assert got == expected


def test_same_nodes_on_prosodys_stream(impl: Implementation) -> None:
    # What Prosody 0.12 sent a client after authentication, as recorded.
    received = [
        line.split("RAW RECV: ", 1)[1]
        for line in TRANSCRIPT.read_text().splitlines()
        if "RAW RECV: " in line
    ]
    start = max(i for i, line in enumerate(received) if "<stream:stream" in line)
    chunks = received[start:]
    expected, _ = with_node_builder(chunks)
    got, _ = with_accelerator(chunks, impl)
    assert [n[0]["name"] for n in got][:2] == ["stream", "features"]
    assert got == expected


def test_stream_end_and_stream_error_as_node_builder_reports_them(impl: Implementation) -> None:
    chunks = cut(
        HEADER + b"<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
        b"<text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>Replaced</text></stream:error>"
        b"</stream:stream>",
        4096,
    )
    expected, builder = with_node_builder(chunks)
    got, parser = with_accelerator(chunks, impl)
    assert got == expected
    assert parser.stream_error == builder.stream_error == "conflict"
    assert parser.has_received_endtag() and builder.has_received_endtag()


def test_stream_not_ended_until_closing_tag(impl: Implementation) -> None:
    _, parser = with_accelerator(cut(CORPUS, 4096), impl)
    assert not parser.has_received_endtag()
    assert parser.stream_error == ""


class DispatchedClient:
    """nbxmpp's Client and StanzaDispatcher with its modules, bound, fed received text."""

    def __init__(self) -> None:
        from nbxmpp.structs import ServerAddress

        self.client = Client()
        self.client._jid = JID.from_string(corpus.ME)
        self.client._current_address = ServerAddress(
            "example.com",
            None,
            "127.0.0.1",
            None,
            ConnectionProtocol.TCP,
            ConnectionType.PLAIN,
            None,
        )
        self.handled: list[tuple[str, str, str]] = []
        dispatcher = self.client._dispatcher
        dispatcher.set_dispatch_callback(None)
        for name in ("message", "presence", "iq"):
            dispatcher.register_handler(StanzaHandler(name=name, callback=self._handle))
        dispatcher.reset_parser()

    def _handle(self, _client: Any, stanza: Any, properties: Any) -> None:
        self.handled.append((stanza.getName(), str(stanza.getFrom()), str(stanza)))

    def feed(self, chunks: list[str]) -> None:
        for chunk in chunks:
            self.client._dispatcher.process_data(chunk)


def test_dispatcher_hands_handlers_the_same_stanzas(impl: Implementation) -> None:
    logging.getLogger("nbxmpp").setLevel(logging.ERROR)
    chunks = cut(generate("mix", 60_000).data, 4096)
    alone = DispatchedClient()
    alone.feed(chunks)
    install(impl)
    accelerated = DispatchedClient()
    assert isinstance(accelerated.client._dispatcher._parser, accelerator.XMPPWireNodeParser)
    accelerated.feed(chunks)
    assert len(alone.handled) > 20
    assert accelerated.handled == alone.handled


def test_noncharacters_replaced_as_nbxmpp_does(impl: Implementation) -> None:
    stanza = "<message id='n'><body>a\ufdd0b\U0001fffe\U0010ffffc</body></message>"
    alone = DispatchedClient()
    alone.feed([HEADER.decode(), stanza])
    install(impl)
    accelerated = DispatchedClient()
    accelerated.feed([HEADER.decode(), stanza])
    assert accelerated.handled == alone.handled
    assert "a\ufffdb\ufffd\ufffdc" in alone.handled[0][2]


def test_install_and_uninstall_put_nbxmpp_back_exactly() -> None:
    before = {
        name: StanzaDispatcher.__dict__[name] for name in ("reset_parser", "replace_non_character")
    }
    from_string = JID.__dict__["from_string"]
    accelerator.install()
    accelerator.install(Limits(max_stanza_bytes=5000))
    assert accelerator.installed()
    assert JID.__dict__["from_string"] is not from_string
    accelerator.uninstall()
    assert not accelerator.installed()
    assert JID.__dict__["from_string"] is from_string
    for name, method in before.items():
        assert StanzaDispatcher.__dict__[name] is method
    dispatcher = StanzaDispatcher(Client())
    dispatcher.reset_parser()
    assert type(dispatcher._parser) is NodeBuilder


# -- forbidden input, from a real server socket to a real nbxmpp client ----------------------


#: What the scripted server waits for, and what it answers: bytes, or bytes made from the match.
Step = tuple[bytes, Callable[[re.Match[bytes]], bytes]]


class ScriptedServer:
    """Loopback TCP: answers what the client writes, step by step, and records all of it."""

    def __init__(self, steps: list[Step]) -> None:
        self.steps = steps
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.received = bytearray()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        connection, _ = self.listener.accept()
        connection.settimeout(10)
        seen = 0
        with connection:
            try:
                for pattern, answer in self.steps:
                    while (found := re.compile(pattern).search(self.received, seen)) is None:
                        chunk = connection.recv(4096)
                        if not chunk:
                            return
                        self.received += chunk
                    seen = found.end()
                    connection.sendall(answer(found))
                while chunk := connection.recv(4096):
                    self.received += chunk
                    if b"</stream:stream>" in self.received:
                        break
            except OSError:
                pass
            finally:
                self.listener.close()


def run_client_against(steps: list[Step], *, on_connected: Any = None) -> tuple[bytes, Any]:
    server = ScriptedServer(steps)
    loop = GLib.MainLoop()
    client = Client()
    client.set_domain("example.com")
    client.set_username("juliet")
    client.set_password("secret")
    client.set_resource("balcony")
    client.set_custom_host(f"127.0.0.1:{server.port}", ConnectionProtocol.TCP, ConnectionType.PLAIN)
    client.set_connection_types([ConnectionType.PLAIN])
    client.subscribe("disconnected", lambda *_: loop.quit())
    client.subscribe("connection-failed", lambda *_: loop.quit())
    if on_connected is not None:
        client.subscribe("connected", lambda *_: on_connected(client))
    GLib.timeout_add_seconds(15, loop.quit)
    client.connect()
    loop.run()
    server.thread.join(10)
    return bytes(server.received), client.get_error()


def answer(data: bytes) -> Callable[[re.Match[bytes]], bytes]:
    return lambda _match: data


CLIENT_HEADER: Final = rb"<stream:stream[^>]*>"


FORBIDDEN = {
    "comment": (b"<!-- hi -->", "restricted-xml"),
    "processing instruction": (b"<?pi data?>", "restricted-xml"),
    "entity": (b"<message><body>&ent;</body></message>", "restricted-xml"),
    "undeclared prefix": (b"<message><x:y/></message>", "not-well-formed"),
    "oversized stanza": (
        b"<message><body>" + b"a" * 6000 + b"</body></message>",
        "policy-violation",
    ),
}


@pytest.mark.parametrize("name", list(FORBIDDEN))
def test_forbidden_input_ends_the_stream_with_its_condition(name: str) -> None:
    construct, condition = FORBIDDEN[name]
    accelerator.install(Limits(max_stanza_bytes=5000))
    written, error = run_client_against([(CLIENT_HEADER, answer(HEADER + construct))])
    stream_error = (
        f"<stream:error><{condition} xmlns='{STREAM_ERRORS_NS}'/><text xmlns='{STREAM_ERRORS_NS}'>"
    ).encode()
    assert stream_error in written
    assert written.endswith(b"</stream:stream>")
    assert error[0] is StreamError.PARSING
    assert error[2].startswith(condition)


def test_nbxmpp_alone_drops_the_stream_without_telling_why() -> None:
    # What the accelerator changes: nbxmpp's expat handler rejects comments
    # too, but without telling the peer why.
    written, error = run_client_against([(CLIENT_HEADER, answer(HEADER + FORBIDDEN["comment"][0]))])
    assert b"<stream:error>" not in written
    assert error[0] is StreamError.PARSING


# -- JIDs ----------------------------------------------------------------------------------


def outcome(parse: Any, text: str, force_bare: bool = False) -> Any:
    try:
        jid = parse(text, force_bare)
    except InvalidJid as error:
        return ("InvalidJid", str(error), type(error.__cause__))
    return (type(jid), jid.localpart, jid.domain, jid.resource)


def generated_jids(count: int) -> set[str]:
    rng = random.Random(7622)
    alphabet = string.printable + "\x00\x7f\u00e9\u00df\ufb01\u2163\u200b"
    found = set()
    for _ in range(count):
        found.add("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 10))))
        found.add(
            rng.choice(["", "a", "Juliet", "x y", 'a"b', "\\20", "ß"])
            + rng.choice(["@", ""])
            + rng.choice(
                [
                    "example.com",
                    "EXAMPLE.com.",
                    "127.0.0.1",
                    "a-b.c",
                    "xn--mnchen-3ya.de",
                    "a..b",
                    "-a.b",
                    "a" * 64 + ".b",
                    "[::1]",
                    "a_b.c",
                    "localhost",
                    "",
                ]
            )
            + rng.choice(["", "/", "/r", "/ Res ource ", "/a/b@c", "/" + "r" * 1024])
        )
    for size in range(249, 257):
        # idna, under nbxmpp, refuses domains over 253 octets.
        labels = ["a" * 62] * (size // 63) + ["b" * (size % 63 or 1)]
        domain = ".".join(labels)[:size].rstrip(".")
        found.update({f"x@{domain}", f"x@{domain}.", domain})
    found.update({"a" * 1023 + "@x", "a" * 1024 + "@x", "x/" + "r" * 1023, "x/" + "r" * 1024})
    return found


def real_jids() -> set[str]:
    text = generate("mix", 200_000).data.decode() + TRANSCRIPT.read_text()
    return set(re.findall(r"(?:from|to|jid)='([^']+)'", text))


def test_jids_parse_as_nbxmpp_parses_them(impl: Implementation) -> None:
    nbxmpp_alone = JID.from_string
    cases = sorted(generated_jids(4000) | real_jids())
    install(impl)
    accelerated = JID.from_string
    assert accelerated is not nbxmpp_alone
    differ = [
        text
        for text in cases
        for bare in (False, True)
        if outcome(accelerated, text, bare) != outcome(nbxmpp_alone, text, bare)
    ]
    assert differ == []


def test_real_ascii_jids_take_the_fast_path(impl: Implementation) -> None:
    ascii_jids = {j for j in real_jids() if j.isascii()}
    assert len(ascii_jids) > 20
    assert all(impl.jid.parse_ascii(j) is not None for j in ascii_jids)


#: Where nbxmpp (stringprep first, PRECIS if that fails; idna for domains)
#: and xmppwire's RFC 7622 rules disagree; the accelerator answers as nbxmpp.
DISAGREEMENTS = {
    "Straße@example.com": ("strasse", "example.com", None),
    "\u03c2@x": ("\u03c3", "x", None),
    "\ufb01@example.com": ("fi", "example.com", None),
    "\u2163@example.com": ("iv", "example.com", None),
    "\u01c5@x": ("d\u017e", "x", None),
    "x@example.com/\ufb01": ("x", "example.com", "fi"),
    "x@example.com/\u2168": ("x", "example.com", "IX"),
    "x@example.com/a\u200bb": ("x", "example.com", "ab"),
    "x@[::1]": ("x", "::1", None),
    "x@[127.0.0.1]": ("x", "127.0.0.1", None),
    "x@xn--mnchen-3ya.de": ("x", "xn--mnchen-3ya.de", None),
}


@pytest.mark.parametrize("text", list(DISAGREEMENTS))
def test_where_the_rules_disagree_nbxmpps_answer_is_kept(impl: Implementation, text: str) -> None:
    try:
        jid = impl.jid.JID(text)
        ours: Any = (jid.localpart, jid.domainpart, jid.resourcepart)
    except ValueError:
        ours = "invalid"
    assert ours != DISAGREEMENTS[text]
    accelerator.install()
    jid = JID.from_string(text)
    assert (jid.localpart, jid.domain, jid.resource) == DISAGREEMENTS[text]


SASL_NS = "urn:ietf:params:xml:ns:xmpp-sasl"
LOGIN: Final[list[Step]] = [
    (
        CLIENT_HEADER,
        answer(
            HEADER + b"<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
            b"<mechanism>PLAIN</mechanism></mechanisms></stream:features>"
        ),
    ),
    (
        rb"<auth [^>]*>[^<]*</auth>",
        # The new stream's header and features in the same read as <success/>.
        answer(
            b"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"
            + HEADER.replace(b"c2s-1", b"c2s-2")
            + b"<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>"
            b"</stream:features>"
        ),
    ),
    (CLIENT_HEADER, answer(b"")),
    (
        rb"<iq [^>]*id=\"([^\"]+)\"[^>]*>\s*<bind ",
        lambda found: (
            b"<iq type='result' id='" + found.group(1) + b"'><bind xmlns="
            b"'urn:ietf:params:xml:ns:xmpp-bind'><jid>juliet@example.com/balcony</jid></bind></iq>"
        ),
    ),
]


def test_stream_restart_after_sasl_success_in_the_same_read() -> None:
    # Whatever follows <success/> in the same read belongs to the new stream.
    accelerator.install()
    bound = []

    def connected(client: Client) -> None:
        bound.append(str(client.get_bound_jid()))
        client.disconnect()

    written, _ = run_client_against(LOGIN, on_connected=connected)
    assert bound == ["juliet@example.com/balcony"]
    assert written.count(b"<stream:stream") == 2
    assert written.endswith(b"</stream:stream>")


def test_nbxmpp_alone_fails_when_the_new_stream_comes_with_success() -> None:
    # What the accelerator changes: NodeBuilder reads the new header as part of
    # the old stream and nbxmpp gives up on a parsing error.
    bound = []
    written, error = run_client_against(LOGIN, on_connected=lambda c: bound.append(c))
    assert bound == []
    assert error[0] is StreamError.PARSING
    assert written.count(b"<stream:stream") == 2
