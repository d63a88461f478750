"""RFC 7622 JID enforcement, case by case, for both implementations.

The cases come from RFC 7622 (§3.5's examples, with erratum 4560: a leading
space in a resourcepart is valid), the PRECIS profiles of RFC 8264/8265 and
the domain mapping of RFC 5895 with IDNA2008 (RFC 5890-5893). Each valid case
gives the enforced (localpart, domainpart, resourcepart); each invalid case
the part that breaks a rule and the rule's name, as ``InvalidJID`` reports it.
"""

# ruff: noqa: RUF001 - the test data is full of look-alike characters on purpose

from __future__ import annotations

import unicodedata

import idna
import pytest

from xmppwire import InvalidJID

# (input, expected (localpart, domainpart, resourcepart))
VALID: list[tuple[str, tuple[str | None, str, str | None]]] = [
    # RFC 7622 §3.5.1, examples 1-15
    ("juliet@example.com", ("juliet", "example.com", None)),
    ("juliet@example.com/foo", ("juliet", "example.com", "foo")),
    ("juliet@example.com/foo bar", ("juliet", "example.com", "foo bar")),
    ("juliet@example.com/foo@bar", ("juliet", "example.com", "foo@bar")),
    ("foo\\20bar@example.com", ("foo\\20bar", "example.com", None)),
    ("fussball@example.com", ("fussball", "example.com", None)),
    ("fußball@example.com", ("fußball", "example.com", None)),
    ("π@example.com", ("π", "example.com", None)),
    ("Σ@example.com/foo", ("σ", "example.com", "foo")),
    ("σ@example.com/foo", ("σ", "example.com", "foo")),
    ("ς@example.com/foo", ("ς", "example.com", "foo")),
    ("king@example.com/♚", ("king", "example.com", "♚")),
    ("example.com", (None, "example.com", None)),
    ("example.com/foobar", (None, "example.com", "foobar")),
    ("a.example.com/b@example.net", (None, "a.example.com", "b@example.net")),
    # RFC 7622 §3.5.2 example 1, valid per erratum 4560 (OpaqueString keeps spaces)
    ("juliet@example.com/ foo", ("juliet", "example.com", " foo")),
    # splitting: the first "/" ends the domainpart, the first "@" before it the localpart
    ("a@b/c@d", ("a", "b", "c@d")),
    ("a/b/c", (None, "a", "b/c")),
    ("a/b@c", (None, "a", "b@c")),
    ("a@b/c/d@e/f", ("a", "b", "c/d@e/f")),
    ("a@b//", ("a", "b", "/")),
    ("a@b/@", ("a", "b", "@")),
    # localpart: RFC 8265 UsernameCaseMapped uses toLowerCase, not case folding
    ("JULIET@example.com", ("juliet", "example.com", None)),
    ("Juliet@Example.COM/Balcony", ("juliet", "example.com", "Balcony")),
    ("FUSSBALL@example.com", ("fussball", "example.com", None)),
    ("ẞ@example.com", ("ß", "example.com", None)),
    ("STRAẞE@example.com", ("straße", "example.com", None)),
    ("ΣΑΣ@example.com", ("σας", "example.com", None)),
    ("ΟΔΟΣ@example.com", ("οδος", "example.com", None)),
    ("Σa@example.com", ("σa", "example.com", None)),
    ("ÀÉÎÕÜ@example.com", ("àéîõü", "example.com", None)),
    ("ДМИТРИЙ@example.com", ("дмитрий", "example.com", None)),
    ("İstanbul@example.com", ("i̇stanbul", "example.com", None)),
    # localpart: width mapping
    ("ＪＵＬＩＥＴ@example.com", ("juliet", "example.com", None)),
    ("ｊｕｌｉｅｔ@example.com", ("juliet", "example.com", None)),
    ("ｶﾀｶﾅ@example.com", ("カタカナ", "example.com", None)),
    ("１２３@example.com", ("123", "example.com", None)),
    # localpart: NFC
    ("e\u0301@example.com", ("é", "example.com", None)),
    ("\u0301a@example.com", ("\u0301a", "example.com", None)),
    ("A\u030a@example.com", ("å", "example.com", None)),
    ("\u1100\u1161\u11a8@example.com", ("각", "example.com", None)),
    # localpart: printable ASCII other than the eight excluded characters
    ("!#$%()*+,-.;=?[]^_`{|}~@example.com", ("!#$%()*+,-.;=?[]^_`{|}~", "example.com", None)),
    ("a\\b@example.com", ("a\\b", "example.com", None)),
    ("xn--bcher-kva@example.com", ("xn--bcher-kva", "example.com", None)),
    # localpart: CONTEXTJ and CONTEXTO rules (RFC 5892 Appendix A)
    ("\u0915\u094d\u200c\u0937@example.com", ("\u0915\u094d\u200c\u0937", "example.com", None)),
    ("\u0915\u094d\u200d\u0937@example.com", ("\u0915\u094d\u200d\u0937", "example.com", None)),
    ("l·l@example.com", ("l·l", "example.com", None)),
    ("\u0375α@example.com", ("\u0375α", "example.com", None)),
    ("・ア@example.com", ("・ア", "example.com", None)),
    ("\u05d0\u05f3@example.com", ("\u05d0\u05f3", "example.com", None)),
    # localpart: the bidi rule
    ("\u05d0\u05d1@example.com", ("\u05d0\u05d1", "example.com", None)),
    ("\u05d01@example.com", ("\u05d01", "example.com", None)),
    ("\u0627\u0644\u0639\u0631\u0628\u064a\u0629@example.com", ("العربية", "example.com", None)),
    ("\u0627\u0661@example.com", ("\u0627\u0661", "example.com", None)),
    # resourcepart: OpaqueString keeps case and compatibility characters
    ("a@example.com/ＪＵＬＩＥＴ", ("a", "example.com", "ＪＵＬＩＥＴ")),
    ("a@example.com/JULIET", ("a", "example.com", "JULIET")),
    ("a@example.com/ẞ", ("a", "example.com", "ẞ")),
    ("a@example.com/™", ("a", "example.com", "™")),
    ("a@example.com/ﬀ", ("a", "example.com", "ﬀ")),
    ("a@example.com/Ⅳ", ("a", "example.com", "Ⅳ")),
    ("a@example.com/①", ("a", "example.com", "①")),
    ("a@example.com/x²", ("a", "example.com", "x²")),
    ("a@example.com/ｶﾀｶﾅ", ("a", "example.com", "ｶﾀｶﾅ")),
    ("a@example.com/♚♛", ("a", "example.com", "♚♛")),
    ("a@example.com/😀", ("a", "example.com", "😀")),
    ("a@example.com/🥲", ("a", "example.com", "🥲")),
    ("a@example.com/👍🏽", ("a", "example.com", "👍🏽")),
    ("a@example.com/\u05d0a", ("a", "example.com", "\u05d0a")),
    ("a@example.com/1\u05d0", ("a", "example.com", "1\u05d0")),
    ("a@example.com/\u0915\u094d\u200c\u0937", ("a", "example.com", "\u0915\u094d\u200c\u0937")),
    # resourcepart: non-ASCII spaces become U+0020, leading and trailing spaces stay
    ("a@example.com/foo\u00a0bar", ("a", "example.com", "foo bar")),
    ("a@example.com/foo\u3000bar", ("a", "example.com", "foo bar")),
    ("a@example.com/foo\u2003bar", ("a", "example.com", "foo bar")),
    ("a@example.com/foo\u202fbar", ("a", "example.com", "foo bar")),
    ("a@example.com/foo ", ("a", "example.com", "foo ")),
    ("a@example.com/ ", ("a", "example.com", " ")),
    ("a@example.com/  two  ", ("a", "example.com", "  two  ")),
    # resourcepart: NFC
    ("a@example.com/e\u0301", ("a", "example.com", "é")),
    ("a@example.com/\u2126", ("a", "example.com", "Ω")),
    ("a@example.com/\u0958", ("a", "example.com", "\u0915\u093c")),
    (
        "a@example.com/!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
        ("a", "example.com", "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
    ),
    # domainpart: RFC 5895 mapping
    ("a@EXAMPLE.COM", ("a", "example.com", None)),
    ("a@Example.Com/R", ("a", "example.com", "R")),
    ("a@ｅｘａｍｐｌｅ．ｃｏｍ", ("a", "example.com", None)),
    ("a@ＥＸＡＭＰＬＥ.com", ("a", "example.com", None)),
    ("a@münchen。de", ("a", "münchen.de", None)),
    ("a@münchen｡de", ("a", "münchen.de", None)),
    ("a@MÜNCHEN.DE", ("a", "münchen.de", None)),
    ("a@mu\u0308nchen.de", ("a", "münchen.de", None)),
    ("a@faß.de", ("a", "faß.de", None)),
    # the domainpart is lowercased whole (RFC 5895 step 1), so this Σ is not final
    ("a@ΣΑΣ.gr", ("a", "σασ.gr", None)),
    ("a@ΣΑΣ", ("a", "σας", None)),
    ("a@ς.gr", ("a", "ς.gr", None)),
    ("a@例え.テスト", ("a", "例え.テスト", None)),
    # domainpart: A-labels become U-labels
    ("a@xn--bcher-kva.example", ("a", "bücher.example", None)),
    ("a@XN--BCHER-KVA.EXAMPLE", ("a", "bücher.example", None)),
    ("a@xn--mnchen-3ya.de/x", ("a", "münchen.de", "x")),
    ("a@xn--fa-hia.de", ("a", "faß.de", None)),
    ("a@xn--r8jz45g.xn--zckzah", ("a", "例え.テスト", None)),
    ("a@xn--4gbrim.xn----ymcbaaajlc6dj7bxne2c.xn--wgbh1c", ("a", "موقع.وزارة-الاتصالات.مصر", None)),
    # domainpart: one trailing dot is stripped first
    ("a@example.com.", ("a", "example.com", None)),
    ("a@example.com./r", ("a", "example.com", "r")),
    ("example.com.", (None, "example.com", None)),
    ("a@münchen.de.", ("a", "münchen.de", None)),
    ("a@xn--bcher-kva.example.", ("a", "bücher.example", None)),
    ("a@localhost", ("a", "localhost", None)),
    ("a@localhost.", ("a", "localhost", None)),
    # domainpart: NR-LDH labels
    ("a@a-b.c-d.example", ("a", "a-b.c-d.example", None)),
    ("a@a--b.example", ("a", "a--b.example", None)),
    ("a@123.example", ("a", "123.example", None)),
    ("a@1.2.3.4.5", ("a", "1.2.3.4.5", None)),
    ("a@256.1.1.1", ("a", "256.1.1.1", None)),
    ("a@01.2.3.4", ("a", "01.2.3.4", None)),
    ("a@x", ("a", "x", None)),
    # domainpart: the bidi rule across labels (RFC 5893 §2)
    ("a@\u05d0\u05d1.example", ("a", "\u05d0\u05d1.example", None)),
    ("a@\u05d0.\u05d1", ("a", "\u05d0.\u05d1", None)),
    # domainpart: IP literals are kept as written
    ("a@127.0.0.1", ("a", "127.0.0.1", None)),
    ("a@127.0.0.1.", ("a", "127.0.0.1", None)),
    ("a@255.255.255.255/r", ("a", "255.255.255.255", "r")),
    ("a@[::1]", ("a", "[::1]", None)),
    ("a@[::1].", ("a", "[::1]", None)),
    ("a@[::]", ("a", "[::]", None)),
    ("a@[2001:db8::1]/r", ("a", "[2001:db8::1]", "r")),
    ("a@[2001:DB8::1]", ("a", "[2001:DB8::1]", None)),
    ("a@[2001:db8:0:0:0:0:0:1]", ("a", "[2001:db8:0:0:0:0:0:1]", None)),
    ("a@[::ffff:192.0.2.1]", ("a", "[::ffff:192.0.2.1]", None)),
    ("a@[fe80::1:2:3:4:5:6]", ("a", "[fe80::1:2:3:4:5:6]", None)),
    ("a@[v1.fe80::a+en1]", ("a", "[v1.fe80::a+en1]", None)),
    ("[::1]", (None, "[::1]", None)),
    ("[::1]/r@s", (None, "[::1]", "r@s")),
]

# (input, part, rule)
INVALID: list[tuple[str, str, str]] = [
    # RFC 7622 §3.5.2, examples 2-6
    ("@example.com/", "localpart", "empty"),
    ("henry\u2163@example.com", "localpart", "precis:has_compat"),
    ("♚@example.com", "localpart", "precis:symbols"),
    ("juliet@", "domainpart", "empty"),
    ("/foobar", "domainpart", "empty"),
    # empty parts
    ("", "domainpart", "empty"),
    ("@", "localpart", "empty"),
    ("/", "domainpart", "empty"),
    ("@/", "localpart", "empty"),
    ("a@/r", "domainpart", "empty"),
    ("@example.com", "localpart", "empty"),
    ("example.com/", "resourcepart", "empty"),
    ("a@example.com/", "resourcepart", "empty"),
    (".", "domainpart", "empty"),
    ("a@.", "domainpart", "empty"),
    ("a@./r", "domainpart", "empty"),
    # multiple "@" before the first "/"
    ("a@b@example.com", "domainpart", "idna:disallowed_codepoint"),
    ("a@@example.com", "domainpart", "idna:disallowed_codepoint"),
    ("@@", "localpart", "empty"),
    # localpart: the eight excluded characters (RFC 7622 §3.3.1)
    ('"juliet"@example.com', "localpart", "excluded-character"),
    ("tom&jerry@example.com", "localpart", "excluded-character"),
    ("o'brien@example.com", "localpart", "excluded-character"),
    ("c:drive@example.com", "localpart", "excluded-character"),
    ("<a@example.com", "localpart", "excluded-character"),
    ("a>@example.com", "localpart", "excluded-character"),
    # ... also when width mapping produces them
    ("a＠b@example.com", "localpart", "excluded-character"),
    ("a／b@example.com", "localpart", "excluded-character"),
    ("a＂b@example.com", "localpart", "excluded-character"),
    ("a＆b@example.com", "localpart", "excluded-character"),
    ("a＇b@example.com", "localpart", "excluded-character"),
    ("a：b@example.com", "localpart", "excluded-character"),
    ("a＜b@example.com", "localpart", "excluded-character"),
    ("a＞b@example.com", "localpart", "excluded-character"),
    # localpart: spaces and controls
    ("foo bar@example.com", "localpart", "precis:spaces"),
    (" juliet@example.com", "localpart", "precis:spaces"),
    ("juliet @example.com", "localpart", "precis:spaces"),
    ("foo\u00a0bar@example.com", "localpart", "precis:has_compat"),
    ("foo\u3000bar@example.com", "localpart", "precis:has_compat"),
    ("foo\u2003bar@example.com", "localpart", "precis:has_compat"),
    ("a\x00@example.com", "localpart", "precis:controls"),
    ("a\tb@example.com", "localpart", "precis:controls"),
    ("a\x7f@example.com", "localpart", "precis:controls"),
    ("a\x85@example.com", "localpart", "precis:controls"),
    # localpart: compatibility characters, symbols, punctuation, unassigned
    ("ﬀ@example.com", "localpart", "precis:has_compat"),
    ("™@example.com", "localpart", "precis:has_compat"),
    ("①@example.com", "localpart", "precis:has_compat"),
    ("x²@example.com", "localpart", "precis:has_compat"),
    ("ℌ@example.com", "localpart", "precis:has_compat"),
    ("ǅ@example.com", "localpart", "precis:has_compat"),
    ("\u2163@example.com", "localpart", "precis:has_compat"),
    ("😀@example.com", "localpart", "precis:symbols"),
    ("a\u2603@example.com", "localpart", "precis:symbols"),
    ("a\u00a1@example.com", "localpart", "precis:punctuation"),
    ("a\u2014@example.com", "localpart", "precis:punctuation"),
    ("a\u0378@example.com", "localpart", "precis:unassigned"),
    ("a\ue000@example.com", "localpart", "precis:other"),
    ("a\u00ad@example.com", "localpart", "precis:precis_ignorable_properties"),
    ("a\u2060@example.com", "localpart", "precis:precis_ignorable_properties"),
    # localpart: CONTEXTJ and CONTEXTO rules
    ("a\u200cb@example.com", "localpart", "precis:zero_width_nonjoiner"),
    ("a\u200db@example.com", "localpart", "precis:zero_width_joiner"),
    ("\u200c@example.com", "localpart", "precis:zero_width_nonjoiner"),
    ("a·b@example.com", "localpart", "precis:middle_dot"),
    ("·l@example.com", "localpart", "precis:middle_dot"),
    ("α\u0375@example.com", "localpart", "precis:greek_keraia"),
    ("a・@example.com", "localpart", "precis:katakana_middle_dot"),
    ("a\u05f3@example.com", "localpart", "precis:bidi_rule"),
    ("\u05f3@example.com", "localpart", "precis:hebrew_punctuation"),
    # localpart: the bidi rule
    ("\u05d0a@example.com", "localpart", "precis:bidi_rule"),
    ("a\u05d0@example.com", "localpart", "precis:bidi_rule"),
    ("1\u05d0@example.com", "localpart", "precis:bidi_rule"),
    ("\u0660\u06f0@example.com", "localpart", "precis:bidi_rule"),
    # resourcepart: controls, unassigned and ignorable code points
    ("a@example.com/a\x00", "resourcepart", "precis:controls"),
    ("a@example.com/a\tb", "resourcepart", "precis:controls"),
    ("a@example.com/a\nb", "resourcepart", "precis:controls"),
    ("a@example.com/a\x7f", "resourcepart", "precis:controls"),
    ("a@example.com/a\u0378", "resourcepart", "precis:unassigned"),
    ("a@example.com/a\ue000", "resourcepart", "precis:other"),
    ("a@example.com/a\ud800", "resourcepart", "precis:other"),
    ("a@example.com/a\u00ad", "resourcepart", "precis:precis_ignorable_properties"),
    ("a@example.com/a\u200cb", "resourcepart", "precis:zero_width_nonjoiner"),
    ("a@example.com/a·b", "resourcepart", "precis:middle_dot"),
    ("a@example.com/\u0660\u06f0", "resourcepart", "precis:arabic_indic"),
    ("a@example.com/\u1100", "resourcepart", "precis:old_hangul_jamo"),
    # domainpart: characters IDNA2008 disallows
    ("a@ex ample.com", "domainpart", "idna:disallowed_codepoint"),
    ("a@ example.com", "domainpart", "idna:disallowed_codepoint"),
    ("a@example.com ", "domainpart", "idna:disallowed_codepoint"),
    ("a@ex\x00ample.com", "domainpart", "idna:disallowed_codepoint"),
    ("a@example.com\t", "domainpart", "idna:disallowed_codepoint"),
    ("a@_xmpp-client.example.com", "domainpart", "idna:disallowed_codepoint"),
    ("a@ex!ample.com", "domainpart", "idna:disallowed_codepoint"),
    ("a@example.com:5222", "domainpart", "idna:disallowed_codepoint"),
    ("a@™.com", "domainpart", "idna:disallowed_codepoint"),
    ("a@ﬀ.com", "domainpart", "idna:disallowed_codepoint"),
    ("a@①.com", "domainpart", "idna:disallowed_codepoint"),
    ("a@Ⅸ.example", "domainpart", "idna:disallowed_codepoint"),
    ("a@ex\u00adample.com", "domainpart", "idna:disallowed_codepoint"),
    ("a@ex\u200bample.com", "domainpart", "idna:disallowed_codepoint"),
    ("a@☃.example", "domainpart", "idna:disallowed_codepoint"),
    ("a@😀.example", "domainpart", "idna:disallowed_codepoint"),
    ("a@exa\u3000mple.com", "domainpart", "idna:disallowed_codepoint"),
    ("a@a\u200cb.example", "domainpart", "idna:contextj"),
    ("a@a·b.example", "domainpart", "idna:contexto"),
    ("a@\u0301a.example", "domainpart", "idna:leading_combiner"),
    # domainpart: label structure
    ("a@example..com", "domainpart", "empty-label"),
    ("a@.example.com", "domainpart", "empty-label"),
    ("a@example.com..", "domainpart", "empty-label"),
    ("a@..", "domainpart", "empty-label"),
    ("a@example.com。", "domainpart", "empty-label"),
    ("a@-example.com", "domainpart", "idna:hyphen_start_end"),
    ("a@example-.com", "domainpart", "idna:hyphen_start_end"),
    ("a@example.-", "domainpart", "idna:hyphen_start_end"),
    ("a@ab--cd.example", "domainpart", "idna:hyphen_3_4"),
    ("a@AB--CD.example", "domainpart", "idna:hyphen_3_4"),
    # domainpart: broken A-labels
    ("a@xn--.example", "domainpart", "idna:invalid_alabel"),
    ("a@xn--abc-.example", "domainpart", "idna:invalid_alabel"),
    ("a@xn--a.example", "domainpart", "idna:disallowed_codepoint"),
    ("a@xn--zz-zz.example", "domainpart", "idna:invalid_alabel"),
    ("a@xn--bcher-kva9.example", "domainpart", "idna:invalid_alabel"),
    ("a@xn---bbk.example", "domainpart", "idna:non_canonical_alabel"),
    ("a@xn--tm-ea.example", "domainpart", "idna:disallowed_codepoint"),
    # domainpart: the bidi rule, within a label and across labels
    ("a@\u05d0a.example", "domainpart", "idna:bidi_rule_2"),
    ("a@\u05d0.1com", "domainpart", "idna:bidi_rule_1"),
    ("a@1com.\u05d0", "domainpart", "idna:bidi_rule_1"),
    # domainpart: IP literals
    ("a@::1", "domainpart", "idna:disallowed_codepoint"),
    ("a@[::1", "domainpart", "ip-literal"),
    ("a@::1]", "domainpart", "ip-literal"),
    ("a@[]", "domainpart", "ip-literal"),
    ("a@[:::1]", "domainpart", "ip-literal"),
    ("a@[1:2:3:4:5:6:7:8:9]", "domainpart", "ip-literal"),
    ("a@[1:2:3:4:5:6:7]", "domainpart", "ip-literal"),
    ("a@[12345::1]", "domainpart", "ip-literal"),
    ("a@[127.0.0.1]", "domainpart", "ip-literal"),
    ("a@[::1%25eth0]", "domainpart", "ip-literal"),
    ("a@[fe80::1%eth0]", "domainpart", "ip-literal"),
    ("a@[::256.0.0.1]", "domainpart", "ip-literal"),
    ("a@[v1.]", "domainpart", "ip-literal"),
    ("a@[example.com]", "domainpart", "ip-literal"),
    ("a@[::1]x", "domainpart", "ip-literal"),
    ("a@[::1]:5222", "domainpart", "ip-literal"),
    ("a@x[::1]", "domainpart", "ip-literal"),
    ("a@［::1］", "domainpart", "idna:disallowed_codepoint"),
    ("a@[::1]..", "domainpart", "ip-literal"),
]


def _ids(cases: list) -> list[str]:
    return [ascii(case[0])[1:-1][:40] for case in cases]


@pytest.mark.parametrize(("text", "parts"), VALID, ids=_ids(VALID))
def test_valid(impl, text: str, parts: tuple) -> None:
    jid = impl.jid.JID(text)
    assert (jid.localpart, jid.domainpart, jid.resourcepart) == parts
    local, domain, resource = parts
    expected = (f"{local}@" if local is not None else "") + domain
    expected += f"/{resource}" if resource is not None else ""
    assert str(jid) == expected
    assert impl.jid.JID(str(jid)) == jid


@pytest.mark.parametrize(("text", "part", "rule"), INVALID, ids=_ids(INVALID))
def test_invalid(impl, text: str, part: str, rule: str) -> None:
    with pytest.raises(InvalidJID) as caught:
        impl.jid.JID(text)
    assert (caught.value.part, caught.value.rule) == (part, rule)
    assert isinstance(caught.value, ValueError)
    assert part in str(caught.value)


# Boundary lengths: each part is 1-1023 octets of UTF-8 *after* enforcement.
def _lengths() -> list[tuple[str, str, bool]]:
    cases = []
    for unit, name in (("a", "1-byte"), ("é", "2-byte"), ("中", "3-byte"), ("𠀀", "4-byte")):
        size = len(unit.encode())
        count, rest = divmod(1023, size)
        fits = unit * count + "a" * rest
        over = fits + "a"
        cases += [
            (f"{fits}@example.com", f"localpart {name} 1023", True),
            (f"{over}@example.com", f"localpart {name} 1024", False),
            (f"a@example.com/{fits}", f"resourcepart {name} 1023", True),
            (f"a@example.com/{over}", f"resourcepart {name} 1024", False),
        ]
    emoji = "😀" * 255 + "abc"
    cases += [
        (f"a@example.com/{emoji}", "resourcepart emoji 1023", True),
        (f"a@example.com/{emoji}d", "resourcepart emoji 1024", False),
        # İ (2 octets) lowercases to i + U+0307 (3 octets): the limit applies to the output
        ("İ" * 341 + "@example.com", "localpart grows to 1023", True),
        ("İ" * 342 + "@example.com", "localpart grows to 1026", False),
        # U+0958 (3 octets) has a composition exclusion: NFC gives 6 octets
        ("a@example.com/" + "\u0958" * 170 + "abc", "resourcepart grows to 1023", True),
        ("a@example.com/" + "\u0958" * 171, "resourcepart grows to 1026", False),
        # fullwidth letters (3 octets) map to ASCII: 3069 octets in, 1023 out
        ("Ａ" * 1023 + "@example.com", "localpart shrinks to 1023", True),
        ("Ａ" * 1024 + "@example.com", "localpart shrinks to 1024", False),
        # NBSP (2 octets) becomes a space
        ("a@example.com/" + "\u00a0" * 1023, "resourcepart shrinks to 1023", True),
        ("a@example.com/" + "\u00a0" * 1024, "resourcepart shrinks to 1024", False),
        # e + combining acute (3 octets) composes to é (2 octets)
        ("e\u0301" * 511 + "a@example.com", "localpart composes to 1023", True),
        ("e\u0301" * 512 + "@example.com", "localpart composes to 1024", False),
    ]
    labels = ".".join(["a" * 63] * 15)  # 959 octets
    cases += [
        (f"a@{labels}.{'b' * 63}", "domainpart 1023", True),
        (f"a@{labels}.{'b' * 63}.", "domainpart 1023 and a trailing dot", True),
        (f"a@{labels.upper()}.{'B' * 63}", "domainpart 1023 uppercase", True),
        (f"a@{labels}.{'b' * 62}.c", "domainpart 1024", False),
        (f"a@{labels}.{'b' * 62}.c.", "domainpart 1024 and a trailing dot", False),
    ]
    wide = ".".join(["é" * 40] * 12)  # 40 * 2 * 12 + 11 = 971 octets
    cases += [
        (f"a@{wide}." + "é" * 25 + "a", "domainpart 2-byte 1023", True),
        (f"a@{wide}." + "é" * 25 + "ab", "domainpart 2-byte 1024", False),
    ]
    return cases


LENGTHS = _lengths()


@pytest.mark.parametrize(("text", "name", "valid"), LENGTHS, ids=[c[1] for c in LENGTHS])
def test_length_limits(impl, text: str, name: str, valid: bool) -> None:
    if valid:
        jid = impl.jid.JID(text)
        longest = max(
            len(part.encode()) for part in (jid.localpart, jid.domainpart, jid.resourcepart) if part
        )
        assert longest == 1023
    else:
        with pytest.raises(InvalidJID) as caught:
            impl.jid.JID(text)
        assert caught.value.rule == "too-long"


def _fits_a_label(label: str) -> bool:
    try:
        return len(idna.alabel(label)) <= 63
    except idna.IDNAError:
        return False


@pytest.mark.parametrize("unit", ["a", "ü", "中", "𠀀"])
def test_label_limit_counts_the_a_label(impl, unit: str) -> None:
    # A label is limited to 63 octets in its A-label form, not in its own.
    count = max(k for k in range(1, 64) if _fits_a_label(unit * k))
    jid = impl.jid.JID("a@" + unit * count + ".example")
    assert jid.domainpart == unit * count + ".example"
    with pytest.raises(InvalidJID) as caught:
        impl.jid.JID("a@" + unit * (count + 1) + ".example")
    assert caught.value.rule in {"idna:label_too_long", "label-too-long"}


def test_huge_input_is_refused_as_too_long(impl) -> None:
    for text in ("a" * 100_000 + "@example.com", "a@example.com/" + "x" * 100_000):
        with pytest.raises(InvalidJID) as caught:
            impl.jid.JID(text)
        assert caught.value.rule == "too-long"


def test_enough_cases() -> None:
    total = len(VALID) + len(INVALID) + len(LENGTHS)
    assert total >= 200, total


def test_unicode_version_is_the_interpreters() -> None:
    # U+1FAE0 MELTING FACE arrived in Unicode 14.0: whether a resourcepart may
    # hold it depends on the running Python's unicodedata (see docs/jid.md).
    from xmppwire.jid import JID

    if tuple(map(int, unicodedata.unidata_version.split("."))) >= (14, 0, 0):
        assert JID("a@example.com/\U0001fae0").resourcepart == "\U0001fae0"
    else:
        with pytest.raises(InvalidJID):
            JID("a@example.com/\U0001fae0")


def test_newer_characters_follow_the_interpreters_unicode(impl) -> None:
    # U+1E4D0 NAG MUNDARI LETTER O arrived in Unicode 15.0. idna's own tables
    # already list it as PVALID, but its bidi class comes from unicodedata, so
    # every part follows the running Python's Unicode version.
    letter = "\U0001e4d0"
    texts = [f"{letter}@example.com", f"a@{letter}.example", f"a@example.com/{letter}"]
    if tuple(map(int, unicodedata.unidata_version.split("."))) >= (15, 0, 0):
        for text in texts:
            assert letter in str(impl.jid.JID(text))
    else:
        rules = []
        for text in texts:
            with pytest.raises(InvalidJID) as caught:
                impl.jid.JID(text)
            rules.append(caught.value.rule)
        assert rules == ["precis:unassigned", "idna:bidi_unknown_direction", "precis:unassigned"]
