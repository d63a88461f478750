"""The faster twisted JID parsing against twisted's own, input by input.

Every comparison is of the whole outcome: the (user, host, resource) tuple, or
the exception's type and message. The inputs: every ASCII character (and the
first 0x3000 code points) in every position of each part, generated JIDs
mixing ASCII, delimiters and the non-ASCII characters stringprep treats
specially, and real JIDs (the RFC 7622 examples, every address in the bench
corpora and in a recorded Prosody session).
"""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from interop import require_module
from xmppwire.bench.corpus import CORPORA, generate

require_module("twisted")

from twisted.words.protocols.jabber import jid as twisted_jid  # noqa: E402

from xmppwire.integrations import _twisted_jid as fast  # noqa: E402


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


jid_rfc = sibling_module("jid/test_jid_rfc.py")
VALID, INVALID = jid_rfc.VALID, jid_rfc.INVALID
TWISTED_PARSE = fast._TWISTED_PARSE
TWISTED_PREP = fast._TWISTED_PREP


def outcome(function: Callable[..., Any], *args: Any) -> tuple[Any, ...]:
    try:
        return ("ok", function(*args))
    except Exception as exc:
        return ("raised", type(exc), exc.args)


def assert_same_parse(text: str) -> None:
    assert outcome(fast.parse, text) == outcome(TWISTED_PARSE, text), repr(text)


def assert_same_prep(user: Any, host: Any, resource: Any) -> None:
    parts = (user, host, resource)
    assert outcome(fast.prep, *parts) == outcome(TWISTED_PREP, *parts), repr(parts)


TEMPLATES = [
    "{c}@example.com",
    "ju{c}liet@example.com/r",
    "{c}",
    "ex{c}ample.com",
    "{c}example.com",
    "example.com{c}",
    "a.{c}.b",
    "juliet@example.com/{c}",
    "juliet@example.com/ba{c}lcony",
    "{c}@{c}/{c}",
]


@pytest.mark.parametrize("template", TEMPLATES)
def test_every_character_in_every_position(template: str) -> None:
    for code in range(0x3000):
        assert_same_parse(template.format(c=chr(code)))


def test_every_ascii_character_in_each_part_of_prep() -> None:
    for code in range(128):
        c = chr(code)
        for parts in (
            (f"ju{c}l", "example.com", None),
            (c, "example.com", "r"),
            (None, f"ex{c}ample.com", None),
            (None, c, None),
            ("u", "example.com", f"ba{c}l"),
            (None, "example.com", c),
        ):
            assert_same_prep(*parts)


def test_fast_set_is_what_the_fast_path_takes() -> None:
    """The plain JIDs servers and clients use every day stay off twisted's slow path."""
    for text in ("Juliet@Example.COM/Balcony 1", "example.com", "a-b.c1.d/x@y/z", "x@y."):
        assert fast._JID.fullmatch(text), text
        assert_same_parse(text)
    for text in ("@example.com", "example.com/", "juliet@", "a..b", "-a.b", "ju\u00e9@b"):
        assert not fast._JID.fullmatch(text), text
        assert_same_parse(text)


# Characters stringprep maps, folds, normalizes, prohibits or judges by
# direction; the delimiters; and ASCII letters, digits and punctuation.
SPECIAL = (
    "\u00e9\u00c9\u00df\u1e9e\u0130\u03a3\u03c2\uff21\uff41\u3002\uff0e\uff61"
    "\u00ad\u200b\u2060\ufeff\u034f\u05d0\u0628\u0661\u0301\u2163\u00a0\u3000"
    "\U0001f600\ue000\ufffd\u0378\u2028\u200e\u202e\u00bd\u2126\u212a\ufb01"
    "\u0131\u00b5\u017f\u1e9b\u2000\u0085\u009f\ud7ff\U000e0001\U0001d400"
)
ALPHABET = st.sampled_from(
    list("@/.@/.-- aZ09_!\"&'<>:~\t\x00\x7f") + list(SPECIAL) + [chr(c) for c in range(32, 127)]
)
JIDS = st.one_of(
    st.text(ALPHABET, max_size=24),
    st.builds(
        lambda u, h, r: f"{u}@{h}/{r}",
        st.text(ALPHABET, max_size=8),
        st.text(ALPHABET, max_size=12),
        st.text(ALPHABET, max_size=8),
    ),
)
PARTS = st.one_of(st.none(), st.text(ALPHABET, max_size=10))


@pytest.mark.hypothesis
@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(JIDS)
def test_generated_jids_parse_as_twisted_parses_them(text: str) -> None:
    assert_same_parse(text)
    # Case changes are where a lowercasing shortcut could go wrong.
    assert_same_parse(text.upper())


@pytest.mark.hypothesis
@settings(max_examples=2000, deadline=None)
@given(PARTS, st.text(ALPHABET, max_size=12), PARTS)
def test_generated_parts_prep_as_twisted_preps_them(
    user: str | None, host: str, resource: str | None
) -> None:
    assert_same_prep(user, host, resource)


def real_jids() -> list[str]:
    found = {text for text, _ in VALID} | {text for text, _, _ in INVALID}
    address = re.compile(rb"""\b(?:from|to|jid)=['"]([^'"]+)['"]""")
    for name in CORPORA:
        found.update(m.decode() for m in address.findall(generate(name, 300_000).data))
    transcript = Path(__file__).parents[1] / "data" / "prosody-0.12-c2s-transcript.txt"
    found.update(m.decode() for m in address.findall(transcript.read_bytes()))
    return sorted(found)


def test_real_jids_parse_as_twisted_parses_them() -> None:
    jids = real_jids()
    ascii_fast = [j for j in jids if j.isascii() and fast._JID.fullmatch(j)]
    non_ascii = [j for j in jids if not j.isascii()]
    # Enough of both kinds for the comparison to mean something.
    assert len(ascii_fast) > 500 and len(non_ascii) > 50, (len(ascii_fast), len(non_ascii))
    for text in jids:
        assert_same_parse(text)
        assert_same_parse(text.upper())


def test_install_makes_twisteds_jid_use_the_fast_path() -> None:
    fast.install()
    try:
        assert twisted_jid.parse is fast.parse and twisted_jid.prep is fast.prep
        j = twisted_jid.JID("Juliet@Example.COM/Balcony")
        assert (j.user, j.host, j.resource) == ("juliet", "example.com", "Balcony")
        j = twisted_jid.JID(tuple=("Romeo", "Example.NET", None))
        assert j.full() == "romeo@example.net"
        j = twisted_jid.JID("\u00c9lise@\u00c9xample.com")  # twisted's own path
        assert (j.user, j.host) == ("\u00e9lise", "\u00e9xample.com")
        with pytest.raises(twisted_jid.InvalidFormat, match="Invalid character in username"):
            twisted_jid.JID("a b@example.com")
    finally:
        fast.uninstall()
    assert twisted_jid.parse is TWISTED_PARSE and twisted_jid.prep is TWISTED_PREP
