"""The compiled twin's non-ASCII fast path against the complete path, difference by difference.

``_jid_c.parse_unicode`` either decides a JID from its tables or returns
``None``, and ``JID`` then asks ``_jid_rules`` (precis-i18n and idna), the
path the pure twin always takes. So the fast path is right exactly when every
JID it decides comes out as ``_jid_rules.enforce`` says: the same three parts,
and never a JID the complete path refuses. These tests check that for every
code point alone and in context, in each part, and for a fixed, seeded set
of generated JIDs mixing scripts, combining marks, bidi characters, width
variants, joiners, dots and IDNA edge cases. They run on the interpreter at
hand, whose ``unicodedata`` both paths use.
"""

# ruff: noqa: RUF001 - the test data is full of look-alike characters on purpose

from __future__ import annotations

import random
import subprocess
import sys
import unicodedata
from collections.abc import Iterator

import pytest

from xmppwire import _impl, _jid_rules
from xmppwire.errors import InvalidJID

pytestmark = pytest.mark.c_extension


@pytest.fixture(scope="module")
def jid_c():
    found = _impl.implementations()
    if "cython" not in found:
        pytest.fail("the compiled twins can't be imported: build them or pass --no-c-extensions")
    from xmppwire import _jid_c

    return _jid_c


def _complete(text: str) -> tuple | tuple[str, str, str]:
    try:
        return _jid_rules.enforce(text)
    except InvalidJID as err:
        return ("InvalidJID", err.part, err.rule)


def _differences(jid_c, texts: Iterator[str]) -> tuple[list, int, int]:
    """(differences, how many texts, how many the fast path decided)."""
    differences = []
    total = decided = 0
    for text in texts:
        total += 1
        fast = jid_c.parse_unicode(text)
        if fast is None:
            continue
        decided += 1
        complete = _complete(text)
        if fast != complete:
            differences.append((text, fast, complete))
    return differences, total, decided


def _report(differences: list) -> str:
    lines = [f"{len(differences)} differences, first ones:"]
    for text, fast, complete in differences[:20]:
        codes = " ".join(f"U+{ord(c):04X}" for c in text)
        lines.append(f"  {text!r} ({codes}): fast {fast!r}, complete {complete!r}")
    return "\n".join(lines)


# Where each code point is put, per part: alone, then in one of three contexts
# in turn. The neighbours are chosen so that code points meet a letter,
# themselves, a digit, a hyphen, a label boundary and a combining mark of a
# high class (U+0315, class 232, which never composes).
_ALONE = {
    "localpart": "{}@example.com",
    "domainpart": "x@{}",
    "resourcepart": "x@example.com/{}",
}
_IN_CONTEXT = {
    "localpart": ("a{0}b@example.com", "{0}{0}7@example.com", "a\u0315{0}@example.com"),
    "domainpart": ("x@a{0}b.example", "x@{0}{0}.b{0}", "x@a\u0315{0}-1.example."),
    "resourcepart": ("x@example.com/a{0}b", "x@example.com/{0}{0} ", "x@example.com/a\u0315{0}"),
}


@pytest.mark.slow
@pytest.mark.parametrize("part", sorted(_ALONE))
def test_every_code_point_alone_and_in_context(jid_c, part: str) -> None:
    differences = []
    decided_alone = []
    for cp in range(0x110000):
        text = _ALONE[part].format(chr(cp))
        fast = jid_c.parse_unicode(text)
        if fast is not None:
            decided_alone.append(chr(cp))
            complete = _complete(text)
            if fast != complete:
                differences.append((text, fast, complete))
    in_context, total, _ = _differences(
        jid_c,
        (
            _IN_CONTEXT[part][index % len(_IN_CONTEXT[part])].format(char)
            for index, char in enumerate(decided_alone)
        ),
    )
    differences += in_context
    assert not differences, _report(differences)
    # A fast path that decides nothing would pass the comparison: it must take
    # the ordinary letters of the common scripts.
    assert len(decided_alone) > 50_000, len(decided_alone)
    assert total == len(decided_alone)


# Pools of code points for generated JIDs: the common scripts, and what makes
# the rules hard.
def _span(first: int, last: int) -> list[str]:
    return [chr(cp) for cp in range(first, last + 1)]


_SCRIPTS = {
    "ascii": _span(0x61, 0x7A) + _span(0x41, 0x5A) + _span(0x30, 0x39) + ["-", "_", "."],
    "latin": _span(0xC0, 0x24F),
    "greek": _span(0x370, 0x3FF) + _span(0x1F00, 0x1FFF),
    "cyrillic": _span(0x400, 0x52F),
    "cjk": _span(0x4E00, 0x9FFF) + _span(0x3400, 0x3450) + _span(0x20000, 0x20100),
    "kana": _span(0x3040, 0x30FF),
    "hangul": _span(0xAC00, 0xD7A3) + _span(0x3130, 0x318F),
    "devanagari": _span(0x900, 0x97F),
    "thai": _span(0xE00, 0xE7F),
    "tamil": _span(0xB80, 0xBFF),
    "georgian": _span(0x10A0, 0x10FF) + _span(0x1C90, 0x1CBF),
    "cherokee": _span(0x13A0, 0x13FD) + _span(0xAB70, 0xABBF),
    "deseret": _span(0x10400, 0x1044F),
    "hebrew": _span(0x591, 0x5F4),
    "arabic": _span(0x600, 0x6FF),
    "marks": _span(0x300, 0x36F) + _span(0x1DC0, 0x1DFF) + _span(0x20D0, 0x20F0),
    "symbols": _span(0x2600, 0x26FF) + _span(0x1F600, 0x1F64F) + _span(0x2100, 0x214F),
    "width": _span(0xFF01, 0xFFEF),
}
# The letters and digits of each pool, for JIDs without hard cases (Lt, Nl and
# No are compatibility characters or case-mapped to them, and mostly invalid).
_LETTERS = {
    name: [c for c in pool if unicodedata.category(c) in ("Ll", "Lu", "Lo", "Lm", "Nd")]
    for name, pool in _SCRIPTS.items()
}
_SPICE = list(
    "\u200c\u200d\u00b7\u0375\u05f3\u05f4\u30fb\u0660\u06f0"  # CONTEXTJ, CONTEXTO
    "\u3002\uff0e\uff61.."  # dots
    "\u00a0\u3000\u2000\u1680 "  # spaces
    "\u212a\u212b\u0130\u1e9e\u03a3\u03c2\u00df\u0345"  # case mapping edge cases
    "\u00ad\u200b\ufe0f\u2060\u034f"  # default ignorable
    "\u0000\u001f\u007f\u0085\ue000\U000f0000"  # controls, private use
    "\u0378\u0530\U00030000\U000e0001"  # unassigned (in some Unicode versions)
    "\u0915\u094d\u0bbe\u0bc6\u1161\u11a8\u0f0b\u3007\u0640"  # composing, exceptions
    "@/\"&'<>:"
)


def _atom(rng: random.Random, scripts: list[str], spice: float) -> str:
    if not spice:
        name = rng.choice(scripts)
        return rng.choice(_LETTERS[name] or _SCRIPTS[name])
    if rng.random() < spice:
        return rng.choice(_SPICE)
    return rng.choice(_SCRIPTS[rng.choice(scripts)])


def _run(rng: random.Random, scripts: list[str], low: int, high: int, spice: float = 0) -> str:
    return "".join(_atom(rng, scripts, spice) for _ in range(rng.randint(low, high)))


def _label(rng: random.Random, scripts: list[str], spice: float) -> str:
    roll = rng.random() if spice else 1.0
    if roll < 0.05:
        return "xn--" + _run(rng, ["ascii"], 1, 10)
    if roll < 0.10:
        return _run(rng, scripts, 1, 3) + "--" + _run(rng, scripts, 1, 3)
    if roll < 0.15:
        return "-" + _run(rng, scripts, 1, 5)
    if roll < 0.20:
        # around the 63-octet limit of the A-label
        return _run(rng, scripts, 10, 64)
    if roll < 0.22:
        return ""
    return _run(rng, scripts, 1, 10, spice)


def generated_jids(seed: int, count: int) -> Iterator[str]:
    """``count`` JIDs in one to three scripts, half of them with hard cases mixed in."""
    rng = random.Random(seed)
    names = sorted(_SCRIPTS)
    common = ["ascii", "latin", "greek", "cyrillic", "cjk", "hangul", "kana", "hebrew", "arabic"]
    for _ in range(count):
        if rng.random() < 0.6:
            scripts = rng.sample(common, rng.randint(1, 2))
        else:
            scripts = rng.sample(names, rng.randint(1, 3))
        spice = 0.06 if rng.random() < 0.5 else 0
        text = ""
        if rng.random() < 0.8:
            text = _run(rng, scripts, 1, 12, spice) + "@"
        labels = [_label(rng, scripts, spice) for _ in range(rng.randint(1, 4))]
        text += ".".join(labels)
        if rng.random() < 0.1:
            text += "."
        if rng.random() < 0.7:
            text += "/" + _run(rng, scripts, 1, 12, spice)
        if rng.random() < 0.02:
            # around the 1023-octet limit of a part
            text = _run(rng, ["cjk"], 330, 345) + "@" + text
        yield text


_GENERATED = 300_000


@pytest.mark.slow
def test_generated_jids(jid_c) -> None:
    differences, total, decided = _differences(jid_c, generated_jids(7622, _GENERATED))
    assert not differences, _report(differences)
    assert total == _GENERATED
    # most of them are valid JIDs of common scripts, which the fast path takes
    assert decided > total // 5, (decided, total)


def test_generated_jids_through_both_twins(jid_c) -> None:
    # JID itself: the compiled type (fast path, then the complete path) against
    # the pure one, valid or not, with the same InvalidJID part and rule.
    from xmppwire import _jid_py

    def outcome(jid_type: type, text: str) -> object:
        try:
            return str(jid_type(text))
        except InvalidJID as err:
            return ("InvalidJID", err.part, err.rule)

    for text in generated_jids(5893, 3000):
        assert outcome(jid_c.JID, text) == outcome(_jid_py.JID, text), text


@pytest.mark.parametrize(
    "text",
    [
        "jürgen@münchen.example/bälcony",
        "ÉLODIE@CAFÉ.fr./Téléphone",
        "σωκράτης@ελλάδα.gr/Φιλοσοφία",
        "ДМИТРИЙ@пример.рф/Телефон",
        "张伟@例子.中国/手机",
        "たなか@例え.jp/携帯",
        "김민준@한국.kr/모바일",
        "अनुराग@उदाहरण.भारत/फोन",
        "x@bücher.example/ ♚ ",
        "שלום@דוגמה.il/טלפון",  # right-to-left: the Bidi Rule holds
        "محمد@مثال.com/هاتف",
        "א1@example.com",  # a right-to-left label may end with a European digit
        "ΣΟΦΙΑ@ΟΔΟΣ.ΣΑΣ.gr/ΣΑΣ",  # capital sigmas, final or not (Final_Sigma)
    ],
)
def test_common_scripts_take_the_fast_path(jid_c, text: str) -> None:
    fast = jid_c.parse_unicode(text)
    assert fast is not None
    assert fast == _jid_rules.enforce(text)


@pytest.mark.parametrize(
    "text",
    [
        "a\u0301@example.com",  # NFC composes it
        "a\u0315\u0316@example.com",  # out of canonical order: NFC reorders
        "x@example.com/a\u0315\u0316",  # out of canonical order: NFC reorders
        "aב@example.com",  # the Bidi Rule: a left-to-right start, then right-to-left
        "x@א.1com",  # the Bidi Rule across labels: "1com" can't start with a digit
        "x@אa.example",
        "x@xn--bcher-kva.example",  # an A-label
        "x@[::1]/ü",  # an IP literal
        "ü@a.b.c.\u3002",  # U+3002 is a dot after mapping
        "ü\u200d@example.com",  # CONTEXTJ
        "l\u00b7l@example.com",  # CONTEXTO
        "Ａlice@example.com",  # fullwidth: width mapping
        "x@example.com/\u3000",  # a non-ASCII space is mapped
        "İ@example.com",  # lowercases to two code points
        "x@" + "ü" * 64 + ".example",  # longer than a label can be
        # its A-label is longer than 63 octets
        "x@" + "".join(chr(0x4E00 + 97 * i) for i in range(25)) + ".example",
        "中" * 342 + "@example.com",  # longer than 1023 octets
        "ü@",  # empty domainpart
        "ü@-x.example",  # hyphen rules
        "ü@ab--c.example",
        "ü@x\u0301y.example",
        "x@example.com/\u092b\u093c",  # a nukta composes with some letters (U+0929)
    ],
)
def test_hard_cases_are_left_to_the_complete_path(jid_c, text: str) -> None:
    # Each of these needs a rule the tables don't decide; the complete path
    # then gives the answer (for some of them a valid JID).
    assert jid_c.parse_unicode(text) is None


def test_label_length_follows_punycode(jid_c) -> None:
    # The 63-octet limit of an A-label is counted on the Punycode the fast
    # path computes itself: the same length as Python's codec, which idna uses.
    rng = random.Random(3492)
    pool = _SCRIPTS["latin"] + _SCRIPTS["cjk"] + _SCRIPTS["hangul"] + _SCRIPTS["deseret"]
    pool += list("abcxyz0189-")
    for _ in range(5000):
        label = "".join(rng.choice(pool) for _ in range(rng.randint(1, 63)))
        assert jid_c.punycode_length(label) == len(label.encode("punycode")), label
    # exactly at the limit and one past it
    at_limit = next(n for n in range(1, 64) if len(("ü" * n + "a").encode("punycode")) + 4 > 63)
    fits = "x@" + "ü" * (at_limit - 1) + "a.example"
    too_long = "x@" + "ü" * at_limit + "a.example"
    assert jid_c.parse_unicode(fits) == _jid_rules.enforce(fits)
    assert jid_c.parse_unicode(too_long) is None
    assert _complete(too_long)[2] == "idna:label_too_long"


def test_tables_load_only_the_blocks_in_use() -> None:
    # In a fresh process: a Latin JID loads the one block of U+0000-U+00FF,
    # a Cyrillic one adds U+0400-U+04FF.
    code = (
        "from xmppwire import _jid_c as c\n"
        "assert c.table_blocks() == 0\n"
        "assert c.parse_unicode('Jürgen@münchen.example/Bälcony')\n"
        "print(c.table_blocks())\n"
        "assert c.parse_unicode('Дмитрий@пример.рф')\n"
        "print(c.table_blocks())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.split() == ["1", "2"]


def test_tables_are_built_from_this_interpreter(jid_c) -> None:
    from xmppwire import _jid_tables

    # a code point new in Unicode 14 (Python 3.11): decided only where unicodedata knows it
    new = "\U0001df00"  # LATIN SMALL LETTER FENG DIGRAPH WITH TRILL, Unicode 14
    known = unicodedata.category(new) != "Cn"
    assert (jid_c.parse_unicode(f"{new}@example.com") is not None) == known
    # equal blocks are one object: a process keeps each distinct block once
    assert _jid_tables.block(0x40) is _jid_tables.block(0x41)  # CJK ideographs
    assert _jid_tables.block(0x500) is _jid_tables.block(0x600)  # unassigned


def test_with_resource_agrees_with_the_complete_path(jid_c) -> None:
    # with_resource() walks a non-ASCII resourcepart with the same tables
    base = jid_c.JID("juliet@example.com")
    checked = 0
    for text in generated_jids(6120, 5000):
        resource = _jid_rules.split(text)[2]
        if resource is None:
            continue
        try:
            expected: object = _jid_rules.enforce_resourcepart(resource)
        except InvalidJID as err:
            expected = ("InvalidJID", err.part, err.rule)
        try:
            got: object = base.with_resource(resource).resourcepart
        except InvalidJID as err:
            got = ("InvalidJID", err.part, err.rule)
        assert got == expected, resource
        checked += 1
    assert checked > 1000
