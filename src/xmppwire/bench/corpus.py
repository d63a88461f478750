"""Deterministic XMPP client streams, generated in memory, to feed every contender.

Each corpus is what a client receives from its server after authentication:
the server's stream header, its features, then stanzas, with no closing tag
(a live stream doesn't end). The same name, size and seed give the same bytes
on every run, so numbers from different machines or versions compare.
"""

from __future__ import annotations

import base64
import random
import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["CORPORA", "DEFAULT_SEED", "Corpus", "generate"]

DEFAULT_SEED = 6120

SERVER = "example.net"
ME = f"romeo@{SERVER}/orchard-4f2a"
MUC = f"conference.{SERVER}"

HEADER = (
    "<?xml version='1.0'?>"
    "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
    f" from='{SERVER}' to='romeo@{SERVER}' id='{{id}}' version='1.0' xml:lang='en'>"
)
FEATURES = (
    "<stream:features>"
    "<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>"
    "<session xmlns='urn:ietf:params:xml:ns:xmpp-session'><optional/></session>"
    "<sm xmlns='urn:xmpp:sm:3'/>"
    "<csi xmlns='urn:xmpp:csi:0'/>"
    "<ver xmlns='urn:xmpp:features:rosterver'/>"
    "<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='http://prosody.im'"
    " ver='mKcRjQBm3Zl1QeX8vq6d0gDuBpY='/>"
    "</stream:features>"
)

# Written as prose, split into words.
WORDS = tuple(
    " ".join(
        (
            "the quick brown fox jumps over lazy dog meet at noon tomorrow sounds good",
            "see you later thanks for the update did you get my file it is on the server",
            "we should ship the release before friday who broke the build again",
            "coffee first then the review lunch is ready",
        )
    ).split()
)

# Text people really send: accents, Cyrillic, CJK, emoji (4-byte UTF-8).
NON_ASCII = [
    "naïve café crème brûlée",
    "Grüße aus Köln",
    "Привет, как дела?",
    "日本語のテキストです",
    "中文消息测试",
    "¿Qué tal? ¡Olé!",
    "Ελληνικά γράμματα",
    "emoji 😀🎉👍",
    "שלום עולם",
    "x² + y² = z² ≤ ∞",
]
# Character data as it appears escaped on the wire.
ESCAPED = [
    "fish &amp; chips",
    "if a &lt; b &amp;&amp; b &gt; c",
    "she said &quot;hi&quot; &amp; left",
    "it&apos;s fine &#x263A;",
    "snow &#9731; and sun &#x2600;",
    "&lt;b&gt;not markup&lt;/b&gt;",
    "A &#x1F600; face",
]
NICKS = ["juliet", "mercutio", "benvolio", "tybalt", "nurse", "friar", "paris", "rosaline"]
CLIENT_NODES = [
    "https://conversations.im",
    "https://gajim.org",
    "https://dino.im",
    "http://psi-im.org",
    "https://monal-im.org",
]
SHOWS = ["away", "chat", "dnd", "xa"]


@dataclass(frozen=True, slots=True)
class Corpus:
    """One generated stream and what it holds."""

    name: str
    data: bytes
    #: Top-level elements after the header: features and stanzas.
    elements: int
    description: str

    @property
    def size(self) -> int:
        return len(self.data)


class _Gen:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.serial = 0

    def id(self) -> str:
        self.serial += 1
        return f"{self.rng.getrandbits(32):08x}-{self.serial}"

    def uuid(self) -> str:
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def words(self, low: int, high: int) -> str:
        return " ".join(self.rng.choices(WORDS, k=self.rng.randint(low, high)))

    def contact(self) -> str:
        return f"{self.rng.choice(NICKS)}{self.rng.randint(1, 400)}@{SERVER}"

    def full_jid(self) -> str:
        device = self.rng.choice(["phone", "laptop", "tablet"])
        return f"{self.contact()}/{device}-{self.rng.getrandbits(16):04x}"

    def stamp(self) -> str:
        r = self.rng
        return (
            f"2026-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}"
            f"T{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}Z"
        )

    def b64(self, nbytes: int) -> str:
        return base64.b64encode(self.rng.randbytes(nbytes)).decode("ascii")

    # -- stanzas -------------------------------------------------------------

    def chat(self) -> str:
        """A ~220-byte one-to-one chat message with a chat state."""
        return (
            f"<message from='{self.full_jid()}' to='{ME}' type='chat' id='{self.id()}'>"
            f"<body>{self.words(2, 9)}</body>"
            "<active xmlns='http://jabber.org/protocol/chatstates'/></message>"
        )

    def presence_caps(self) -> str:
        r = self.rng
        show = f"<show>{r.choice(SHOWS)}</show>" if r.random() < 0.6 else ""
        status = f"<status>{self.words(1, 6)}</status>" if r.random() < 0.5 else ""
        photo = f"<photo>{r.getrandbits(160):040x}</photo>" if r.random() < 0.7 else ""
        return (
            f"<presence from='{self.full_jid()}' to='{ME}' xml:lang='en'>"
            f"{show}{status}<priority>{r.randint(-1, 50)}</priority>"
            f"<c xmlns='http://jabber.org/protocol/caps' hash='sha-1'"
            f" node='{r.choice(CLIENT_NODES)}' ver='{self.b64(20)}'/>"
            f"<x xmlns='vcard-temp:x:update'>{photo}</x>"
            "</presence>"
        )

    def roster_result(self) -> str:
        r = self.rng
        items = []
        for _ in range(r.randint(1, 40)):
            groups = "".join(
                f"<group>{g}</group>"
                for g in r.sample(
                    ["Friends", "Work", "Family", "Café ☕", "Q&amp;A"], r.randint(0, 2)
                )
            )
            sub = r.choice(["both", "to", "from", "none"])
            ask = " ask='subscribe'" if sub == "none" and r.random() < 0.3 else ""
            name = r.choice(NICKS).capitalize() + (
                " " + r.choice(NON_ASCII[:3]) if r.random() < 0.2 else ""
            )
            jid = self.contact()
            items.append(
                f"<item jid='{jid}' name='{name}' subscription='{sub}'{ask}>{groups}</item>"
            )
        return (
            f"<iq type='result' id='{self.id()}' to='{ME}'>"
            f"<query xmlns='jabber:iq:roster' ver='{r.getrandbits(40):x}'>"
            f"{''.join(items)}</query></iq>"
        )

    def muc_groupchat(self) -> str:
        r = self.rng
        room = f"{r.choice(['dev', 'lounge', 'ops', 'release'])}@{MUC}"
        return (
            f"<message from='{room}/{r.choice(NICKS)}' to='{ME}' type='groupchat'"
            f" id='{self.uuid()}' xml:lang='en'>"
            f"<body>{self.words(3, 30)}</body>"
            f"<delay xmlns='urn:xmpp:delay' from='{room}' stamp='{self.stamp()}'/>"
            f"<stanza-id xmlns='urn:xmpp:sid:0' id='{self.uuid()}' by='{room}'/>"
            f"<occupant-id xmlns='urn:xmpp:occupant-id:0' id='{self.b64(15)}'/>"
            "</message>"
        )

    def chat_entities(self) -> str:
        r = self.rng
        parts = [r.choice(ESCAPED), r.choice(NON_ASCII), self.words(1, 8)]
        r.shuffle(parts)
        return (
            f"<message from='{self.full_jid()}' to='{ME}' type='chat' id='{self.id()}'"
            " xml:lang='en'>"
            f"<body>{' '.join(parts)}</body>"
            "<markable xmlns='urn:xmpp:chat-markers:0'/>"
            f"<origin-id xmlns='urn:xmpp:sid:0' id='{self.uuid()}'/>"
            "</message>"
        )

    def vcard_avatar(self) -> str:
        """An iq vCard result with a 64 KiB base64 avatar, wrapped at 76 columns as clients do."""
        b64 = self.b64(65536 * 3 // 4)
        lines = "\n".join(b64[i : i + 76] for i in range(0, len(b64), 76))
        nick = self.rng.choice(NICKS)
        return (
            f"<iq type='result' id='{self.id()}' from='{self.contact()}' to='{ME}'>"
            f"<vCard xmlns='vcard-temp'><FN>{nick.capitalize()} Montague</FN>"
            f"<NICKNAME>{nick}</NICKNAME><PHOTO><TYPE>image/png</TYPE>"
            f"<BINVAL>{lines}</BINVAL></PHOTO></vCard></iq>"
        )

    def keepalive(self) -> str:
        return " "

    # -- streams -------------------------------------------------------------

    def stream(self, size: int, pick: Callable[[], Callable[[], str]]) -> tuple[str, int]:
        header = HEADER.replace("{id}", self.uuid())
        parts = [header, FEATURES]
        total = len(header) + len(FEATURES)
        elements = 1
        while total < size:
            make = pick()
            text = make()
            parts.append(text)
            # Character lengths undercount non-ASCII bytes a little; the
            # target size is approximate anyway.
            total += len(text)
            if make != self.keepalive:
                elements += 1
        return "".join(parts), elements


def _small(size: int, seed: int) -> tuple[str, int]:
    gen = _Gen(seed)
    return gen.stream(size, lambda: gen.chat)


def _mix(size: int, seed: int) -> tuple[str, int]:
    gen = _Gen(seed)
    kinds = [
        gen.presence_caps,
        gen.muc_groupchat,
        gen.chat_entities,
        gen.roster_result,
        gen.vcard_avatar,
        gen.keepalive,
    ]
    weights = [30.0, 36.0, 29.0, 2.5, 1.0, 1.5]
    rng = gen.rng

    def pick() -> Callable[[], str]:
        return rng.choices(kinds, weights)[0]

    return gen.stream(size, pick)


_TOKEN = re.compile(r"<[^>]*>|[^<]+")
_ATTRIBUTE = re.compile(r"([^\s=]+)='([^']*)'")
_INDENTS = ("  ", "    ", "\t")
_EQUALS = ("=", " = ", " =", "= ", "\t=\t")
_SEPARATORS = (" ", "\t", " \t")


class _Pretty:
    """Re-writes compact stanzas the way specifications, logs and some libraries do.

    Each stanza gets its own style, drawn from the seeded generator: an indent
    (spaces or a tab), attributes on lines of their own or separated by runs of
    spaces and tabs, whitespace around ``=``, either quote, a space before
    ``/>``. Elements holding only elements are indented; text stays where it is.
    """

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def _attributes(self, attrs: str, indent: str) -> str:
        r = self.rng
        layout = r.choice(("lines", "lines", "spaced", "tabs"))
        parts = []
        for name, value in _ATTRIBUTE.findall(attrs):
            quote = '"' if r.random() < 0.5 and '"' not in value else "'"
            parts.append(f"{name}{r.choice(_EQUALS)}{quote}{value}{quote}")
        if not parts:
            return ""
        if layout == "lines":
            return "".join(f"\n{indent}    {part}" for part in parts)
        if layout == "spaced":
            return "".join(f"{' ' * r.randint(1, 3)}{part}" for part in parts)
        return "".join(f"{r.choice(_SEPARATORS)}{part}" for part in parts)

    def stanza(self, compact: str) -> str:
        r = self.rng
        unit = r.choice(_INDENTS)
        tokens = _TOKEN.findall(compact)
        out: list[str] = []
        depth = 0
        # Whether the element just opened holds text (written inline) or elements.
        inline: list[bool] = []
        for index, token in enumerate(tokens):
            following = tokens[index + 1] if index + 1 < len(tokens) else ""
            if token.startswith("</"):
                depth -= 1
                if not inline.pop():
                    out.append("\n" + unit * depth)
                out.append(token)
            elif token.startswith("<"):
                empty = token.endswith("/>")
                body = token[1 : -2 if empty else -1]
                name, _, attrs = body.partition(" ")
                if inline and not inline[-1]:
                    out.append("\n" + unit * depth)
                head = f"<{name}{self._attributes(attrs, unit * depth)}"
                if empty:
                    out.append(head + (" />" if r.random() < 0.5 else "/>"))
                else:
                    out.append(head + ">")
                    depth += 1
                    inline.append(not following.startswith("<"))
            else:
                out.append(token)
        return "".join(out) + "\n"


def _pretty(size: int, seed: int) -> tuple[str, int]:
    gen = _Gen(seed)
    rng = gen.rng
    pretty = _Pretty(rng)
    kinds = [
        gen.chat,
        gen.presence_caps,
        gen.muc_groupchat,
        gen.chat_entities,
        gen.roster_result,
        gen.vcard_avatar,
    ]
    weights = [25.0, 25.0, 25.0, 20.0, 3.0, 0.2]

    def pick() -> Callable[[], str]:
        make = rng.choices(kinds, weights)[0]
        return lambda: pretty.stanza(make())

    return gen.stream(size, pick)


_MAKERS: dict[str, tuple[Callable[[int, int], tuple[str, int]], str]] = {
    "small": (_small, "~220-byte chat messages"),
    "mix": (
        _mix,
        "presence+caps, MUC with delay/stanza-id, entities and non-ASCII text, "
        "roster results, ~1% 64 KiB vCard avatars",
    ),
    "pretty": (
        _pretty,
        "the same kinds pretty-printed: indented, attributes on their own lines or spaced "
        "with tabs, whitespace around '=', mixed quotes",
    ),
}

#: The corpus names, in the order the table shows them.
CORPORA: tuple[str, ...] = tuple(_MAKERS)


def generate(name: str, size: int, seed: int = DEFAULT_SEED) -> Corpus:
    """The corpus ``name`` (one of :data:`CORPORA`), at least ``size`` bytes long."""
    try:
        make, description = _MAKERS[name]
    except KeyError:
        raise ValueError(f"unknown corpus {name!r}; choose from {', '.join(CORPORA)}") from None
    if size < 1:
        raise ValueError("size must be positive")
    text, elements = make(size, seed)
    return Corpus(name, text.encode("utf-8"), elements, description)
