"""Every row of the error mapping (docs/stream-parser.md, "Errors"), condition and offset.

Each case is ``before + bad + after``: the error is expected at ``len(before)``,
whatever the chunking. Cases marked "Prosody #n" are the parser-level inputs a
real Prosody 0.12 was probed with; where Prosody answers differently (it sends
``not-well-formed`` for everything), the contract's condition is asserted.
"""

from __future__ import annotations

import pyexpat
from typing import NamedTuple

import pytest

from xmpp_samples import CLOSE, HEADER, TLS_CLIENT_HELLO, XML_DECLARATION, chunkings, feed_chunks
from xmppwire import RemoteProtocolError

STREAMS = b"http://etherx.jabber.org/streams"
IN_BODY = HEADER + b"<message><body>"
END_BODY = b"</body></message>"
IN_MESSAGE = HEADER + b"<message>"
END_MESSAGE = b"</message>"


class Case(NamedTuple):
    id: str
    before: bytes
    bad: bytes
    after: bytes
    condition: str
    #: end the input with close() (for errors that only end of input reveals)
    close: bool = False

    @property
    def data(self) -> bytes:
        return self.before + self.bad + self.after

    @property
    def offset(self) -> int:
        return len(self.before)


def cases(condition: str, *rows: tuple) -> list:
    return [pytest.param(Case(row[0], *row[1:4], condition, *row[4:]), id=row[0]) for row in rows]


RESTRICTED = cases(
    "restricted-xml",
    # comments (Prosody #5, #6)
    ("comment-at-depth-1", HEADER, b"<!-- x -->", b"<presence/>"),
    ("comment-in-stanza", IN_MESSAGE, b"<!-- x -->", END_MESSAGE),
    ("comment-in-text", IN_BODY + b"hi ", b"<!---->", b" there" + END_BODY),
    ("comment-before-header", b"", b"<!-- x -->", HEADER),
    ("comment-after-declaration", XML_DECLARATION + b"\n", b"<!---->", HEADER),
    ("comment-opener-alone", HEADER, b"<!--", b""),
    # processing instructions (Prosody #7)
    ("pi-at-depth-1", HEADER, b"<?foo bar?>", b""),
    ("pi-in-stanza", IN_MESSAGE, b"<?foo?>", END_MESSAGE),
    ("pi-before-header", b"", b"<?foo bar?>", HEADER),
    ("pi-after-declaration", XML_DECLARATION, b"<?xml-stylesheet href='a'?>", HEADER),
    ("pi-target-XML", XML_DECLARATION, b"<?XML version='1.0'?>", HEADER),
    ("pi-xml-stylesheet-at-offset-0", b"", b"<?xml-stylesheet href='a'?>", HEADER),
    ("pi-target-XML-at-offset-0", b"", b"<?XML version='1.0'?>", HEADER),
    ("pi-target-xmlfoo-in-stanza", IN_MESSAGE, b"<?xmlfoo?>", END_MESSAGE),
    ("pi-opener-and-target", HEADER, b"<?target ", b""),
    ("pi-non-ascii-target", HEADER, "<?\u00e9t\u00e9 x?>".encode(), b""),
    ("pi-target-with-colon", HEADER, b"<?a:b ?>", b""),
    ("pi-target-xmlx-at-offset-0", b"", b"<?xmlx ?>", HEADER),
    ("pi-target-then-any-byte", HEADER, b"<?x\x01", b""),
    # DOCTYPE and subsets (Prosody #9, #10)
    ("doctype-at-depth-1", HEADER, b"<!DOCTYPE foo>", b""),
    ("doctype-in-stanza", IN_MESSAGE, b"<!DOCTYPE foo>", END_MESSAGE),
    (
        "doctype-internal-subset-before-header",
        XML_DECLARATION,
        b"<!DOCTYPE stream:stream [<!ENTITY x 'y'>]>",
        HEADER,
    ),
    ("doctype-external", b"", b"<!DOCTYPE stream SYSTEM 'http://example.com/x.dtd'>", HEADER),
    ("doctype-opener-alone", HEADER, b"<!DOCTYPE", b""),
    # entity references other than the five predefined (Prosody #11)
    ("entity-in-text", IN_BODY + b"hi ", b"&foo;", b" there" + END_BODY),
    ("entity-nbsp", IN_BODY, b"&nbsp;", END_BODY),
    ("entity-case-matters", IN_BODY, b"&Amp;", END_BODY),
    ("entity-at-depth-1", HEADER + b"hello ", b"&foo;", b"<presence/>"),
    ("entity-in-attribute", HEADER, b"<message to='&foo;'/>", b""),
    ("entity-in-header-attribute", b"", HEADER[:-1] + b" id='&foo;'>", b""),
    ("entity-in-nested-attribute", IN_MESSAGE, b"<x a='1&amp;2&e;'/>", END_MESSAGE),
    ("entity-non-ascii-name", IN_BODY, "&\u00e9t\u00e9;".encode(), END_BODY),
    # order: the first offending construct wins
    ("entity-before-illegal-char", IN_BODY, b"&foo;\x01", END_BODY),
    ("attribute-entity-before-later-lt", HEADER, b"<a x='&foo;' y='<'/>", b""),
    ("attribute-entity-before-namespace", HEADER, b"<p:a x='&foo;'/>", b""),
    ("attribute-entity-before-duplicate", HEADER, b"<a x='&e;' y='1' y='2'/>", b""),
)

UNSUPPORTED_ENCODING = cases(
    "unsupported-encoding",
    # declarations (Prosody #43)
    ("declared-iso-8859-1", b"", b"<?xml version='1.0' encoding='ISO-8859-1'?>", HEADER),
    ("declared-utf-16", b"", b'<?xml version="1.0" encoding="UTF-16"?>', HEADER),
    ("declared-utf8-without-dash", b"", b"<?xml version='1.0' encoding='utf8'?>", HEADER),
    ("declared-ascii", b"", b"<?xml version='1.0' encoding='US-ASCII' standalone='yes'?>", HEADER),
    # bytes that can't start a sequence, at themselves (Prosody #16)
    ("ff-in-text", IN_BODY + b"a", b"\xff", b"b" + END_BODY),
    ("fe-in-text", IN_BODY, b"\xfe", END_BODY),
    ("f5-in-text", IN_BODY, b"\xf5\x80\x80\x80", END_BODY),
    ("c0-overlong", IN_BODY, b"\xc0\xaf", END_BODY),
    ("c1-overlong", IN_BODY, b"\xc1\xbf", END_BODY),
    ("stray-continuation", IN_BODY + b"ab", b"\x80", END_BODY),
    ("stray-continuation-after-complete", IN_BODY + b"\xc3\xa9", b"\xa9", END_BODY),
    # broken sequences, at their lead byte
    ("overlong-3-byte", IN_BODY, b"\xe0\x80\xaf", END_BODY),
    ("overlong-4-byte", IN_BODY, b"\xf0\x80\x80\xaf", END_BODY),
    ("surrogate", IN_BODY, b"\xed\xa0\x80", END_BODY),
    ("low-surrogate", IN_BODY, b"\xed\xbf\xbf", END_BODY),
    ("above-10ffff", IN_BODY, b"\xf4\x90\x80\x80", END_BODY),
    ("truncated-before-lt", IN_BODY, b"\xe4\xb8", END_BODY),
    ("truncated-before-ascii", IN_BODY, b"\xc3", b"a" + END_BODY),
    ("truncated-4-byte", IN_BODY, b"\xf0\x9f\x98", b"!" + END_BODY),
    ("truncated-by-lead", IN_BODY, b"\xe4", b"\xe4\xb8\xad" + END_BODY),
    # inside markup the byte's own offset is reported, not the token's `<`
    ("ff-in-attribute", HEADER + b"<message to='a", b"\xff", b"'/>"),
    ("truncated-at-closing-quote", HEADER + b"<message to='", b"\xc3", b"'/>"),
    ("ff-in-element-name", HEADER + b"<mess", b"\xff", b"age/>"),
    ("ff-in-end-tag", IN_MESSAGE + b"</mess", b"\xff", b"age>"),
    ("ff-in-header", HEADER[:20], b"\xff", HEADER[20:]),
    ("ff-in-declaration", b"<?xml version='1.0' encoding='", b"\xff", b"'?>" + HEADER),
    ("ff-in-cdata", IN_BODY + b"<![CDATA[x", b"\xff", b"]]>" + END_BODY),
    ("ff-in-pi-target", HEADER + b"<?x", b"\xff", b"?>"),
    # UTF-8 is checked over the whole token before its other rules
    ("after-an-illegal-character", IN_BODY + b"\x01a", b"\xff", END_BODY),
    ("after-a-bad-reference", IN_BODY + b"&foo; &bar", b"\xc0", END_BODY),
    ("after-a-bad-name", HEADER + b"<1a x='", b"\xff", b"'/>"),
    # outside the root: the first byte, judged at once
    ("first-byte-80", b"", b"\x80", HEADER),
    ("first-byte-c1", b" \n", b"\xc1", HEADER),
    ("first-byte-f5", b"", b"\xf5", HEADER),
    ("utf-16-le-bom", b"", b"\xff\xfe", "<stream:stream>".encode("utf-16-le")),
    ("utf-16-be-bom", b"", b"\xfe\xff", "<stream:stream>".encode("utf-16-be")),
    ("utf-16-le-without-bom", b"", "<stream:stream/>".encode("utf-16-le"), b""),
    ("utf-16-be-without-bom", b"", "<stream:stream/>".encode("utf-16-be"), b""),
    ("at-depth-1", HEADER + b" ", b"\xff", b"<presence/>"),
    ("after-the-close", HEADER + CLOSE + b" ", b"\x80", b""),
)

NOT_WELL_FORMED = cases(
    "not-well-formed",
    # end tags (Prosody #4)
    ("mismatched-end-tag", HEADER + b"<a><b>", b"</a>", b"</b></a>"),
    ("mismatched-in-stanza", IN_BODY, b"</message>", b""),
    ("stray-end-tag-at-depth-1", HEADER, b"</message>", b""),
    (
        "end-tag-same-namespace-other-prefix",
        HEADER + b"<p:a xmlns:p='u' xmlns:q='u'>",
        b"</q:a>",
        b"",
    ),
    ("end-tag-prefix-dropped", HEADER + b"<p:a xmlns:p='u'>", b"</a>", b""),
    ("end-tag-bad-name", IN_MESSAGE, b"</1message>", b""),
    ("end-tag-space-before-name", IN_MESSAGE, b"</ message>", b""),
    ("end-tag-with-attribute", IN_MESSAGE, b"</message x='1'>", b""),
    ("end-tag-empty", IN_MESSAGE, b"</>", b""),
    (
        "close-tag-of-unprefixed-root",
        b"<stream xmlns='http://etherx.jabber.org/streams'>",
        CLOSE,
        b"",
    ),
    # attribute values
    ("lt-in-attribute", HEADER, b"<message to='a<b'/>", b""),
    ("lt-in-header-attribute", b"", HEADER[:-1] + b" id='<'>", b""),
    ("bare-amp-in-attribute", HEADER, b"<message to='a&b'/>", b""),
    ("unterminated-reference-in-attribute", HEADER, b"<message to='&amp'/>", b""),
    ("illegal-char-in-attribute", HEADER, b"<message to='\x01'/>", b""),
    ("illegal-reference-in-attribute", HEADER, b"<message to='&#0;'/>", b""),
    ("attribute-lt-before-entity", HEADER, b"<a y='<' x='&foo;'/>", b""),
    ("quote-runs-on-past-gt", HEADER, b"<a x='1\"/><b/>'/>", b""),
    # references and text (Prosody #14, #15)
    ("bare-amp", IN_BODY + b"a ", b"&", b" b" + END_BODY),
    ("amp-before-lt", IN_BODY + b"a ", b"&", END_BODY),
    ("unterminated-named-reference", IN_BODY, b"&amp", b" b" + END_BODY),
    ("unterminated-at-lt", IN_BODY, b"&lt", END_BODY),
    ("empty-reference", IN_BODY, b"&;", END_BODY),
    ("empty-decimal-reference", IN_BODY, b"&#;", END_BODY),
    ("empty-hex-reference", IN_BODY, b"&#x;", END_BODY),
    ("uppercase-x-reference", IN_BODY, b"&#X41;", END_BODY),
    ("bad-hex-digit", IN_BODY, b"&#xZ;", END_BODY),
    ("bad-decimal-digit", IN_BODY, b"&#1a;", END_BODY),
    ("space-in-reference", IN_BODY, b"&# 65;", END_BODY),
    ("reference-to-nul", IN_BODY, b"&#0;", END_BODY),
    ("reference-to-1", IN_BODY + b"x", b"&#1;", END_BODY),
    ("reference-to-1f", IN_BODY, b"&#x1F;", END_BODY),
    ("reference-to-surrogate", IN_BODY, b"&#xD800;", END_BODY),
    ("reference-to-low-surrogate", IN_BODY, b"&#57343;", END_BODY),
    ("reference-to-fffe", IN_BODY, b"&#xFFFE;", END_BODY),
    ("reference-to-ffff", IN_BODY, b"&#65535;", END_BODY),
    ("reference-above-10ffff", IN_BODY, b"&#x110000;", END_BODY),
    ("reference-huge-decimal", IN_BODY, b"&#99999999999999999999999999;", END_BODY),
    ("reference-huge-hex", IN_BODY, b"&#x10000000000000041;", END_BODY),
    ("reference-at-depth-1", HEADER + b"x ", b"&#2;", b"<a/>"),
    ("cdata-end-in-text", IN_BODY + b"a ", b"]]>", b" b" + END_BODY),
    ("cdata-end-after-bracket", IN_BODY + b"a]", b"]]>", END_BODY),
    ("cdata-end-at-depth-1", HEADER + b"x", b"]]>", b"<a/>"),
    ("raw-nul", IN_BODY, b"\x00", END_BODY),
    ("raw-01", IN_BODY + b"hello", b"\x01", END_BODY),
    ("raw-08", IN_BODY, b"\x08", END_BODY),
    ("raw-0b", IN_BODY, b"\x0b", END_BODY),
    ("raw-0c", IN_BODY, b"\x0c", END_BODY),
    ("raw-1f", IN_BODY, b"\x1f", END_BODY),
    ("raw-fffe", IN_BODY, b"\xef\xbf\xbe", END_BODY),
    ("raw-ffff", IN_BODY, b"\xef\xbf\xbf", END_BODY),
    ("raw-01-in-cdata", IN_BODY + b"<![CDATA[a", b"\x01", b"]]>" + END_BODY),
    ("raw-01-at-depth-1", HEADER + b"x", b"\x01", b"<a/>"),
    ("illegal-char-before-entity", IN_BODY, b"\x01&foo;", END_BODY),
    # names
    ("name-starts-with-digit", HEADER, b"<1message/>", b""),
    ("name-starts-with-dash", HEADER, b"<-a/>", b""),
    ("name-starts-with-dot", HEADER, b"<.a/>", b""),
    ("name-empty-prefix", HEADER, b"<:a/>", b""),
    ("name-empty-local", HEADER, b"<a:/>", b""),
    ("name-two-colons", HEADER + b"<a xmlns:a='u'>", b"<a:b:c/>", b"</a>"),
    ("name-double-colon", HEADER, b"<a::b/>", b""),
    ("space-before-name", HEADER, b"< message/>", b""),
    ("name-combining-mark-first", HEADER, "<\u0300a/>".encode(), b""),
    ("name-middle-dot-first", HEADER, "<\u00b7a/>".encode(), b""),
    ("name-greek-question-mark", HEADER, "<a\u037e/>".encode(), b""),
    ("name-multiplication-sign", HEADER, "<a\u00d7/>".encode(), b""),
    ("attribute-name-digit", HEADER, b"<message 1x='1'/>", b""),
    ("attribute-name-empty-local", HEADER, b"<message x:='1'/>", b""),
    ("lt-in-start-tag", HEADER, b"<message <x/>", b""),
    # attributes
    ("unquoted-attribute", HEADER, b"<message to=a/>", b""),
    ("attribute-without-value", HEADER, b"<message to/>", b""),
    ("attribute-without-equals", HEADER, b"<message to 'a'/>", b""),
    ("duplicate-attribute", HEADER, b"<message id='1' id='2'/>", b""),
    ("duplicate-declaration", HEADER, b"<message xmlns:p='u' xmlns:p='u'/>", b""),
    ("duplicate-default-declaration", HEADER, b"<message xmlns='u' xmlns='v'/>", b""),
    (
        "duplicate-after-resolution",
        HEADER,
        b"<message xmlns:p='u' xmlns:q='u' p:x='1' q:x='2'/>",
        b"",
    ),
    (
        "duplicate-with-header-prefix",
        HEADER,
        b"<message xmlns:s='http://etherx.jabber.org/streams' stream:a='1' s:a='2'/>",
        b"",
    ),
    ("unseparated-attributes", HEADER, b"<message to='a'id='b'/>", b""),
    ("slash-not-before-gt", HEADER, b"<message / >", b""),
    ("slash-inside", HEADER, b"<message/ to='a'>", b""),
    ("stray-character", HEADER, b"<message to='a' ?>", b""),
    # namespaces (Prosody #19)
    ("undeclared-element-prefix", HEADER, b"<foo:bar/>", b""),
    ("undeclared-attribute-prefix", HEADER, b"<message foo:x='1'/>", b""),
    ("prefix-of-a-closed-sibling", HEADER + b"<a><p:b xmlns:p='u'/>", b"<p:c/>", b"</a>"),
    ("prefix-of-an-earlier-stanza", HEADER + b"<a xmlns:p='u'/>", b"<p:a/>", b""),
    ("undeclaring-a-prefix", HEADER, b"<message xmlns:p=''/>", b""),
    ("declaring-xmlns", HEADER, b"<message xmlns:xmlns='urn:x'/>", b""),
    ("rebinding-xml", HEADER, b"<message xmlns:xml='urn:x'/>", b""),
    (
        "binding-another-prefix-to-xml",
        HEADER,
        b"<message xmlns:x='http://www.w3.org/XML/1998/namespace'/>",
        b"",
    ),
    (
        "default-namespace-xml",
        HEADER,
        b"<message xmlns='http://www.w3.org/XML/1998/namespace'/>",
        b"",
    ),
    ("binding-the-xmlns-uri", HEADER, b"<message xmlns:x='http://www.w3.org/2000/xmlns/'/>", b""),
    (
        "default-namespace-xmlns-uri",
        HEADER,
        b"<message xmlns='http://www.w3.org/2000/xmlns/'/>",
        b"",
    ),
    ("element-prefix-xmlns", HEADER, b"<xmlns:a/>", b""),
    ("undeclared-prefix-on-root", b"", b"<stream:stream>", b""),
    (
        "undeclared-prefix-on-root-prosody-37",
        b"",
        b"<stream:stream xmlns='jabber:client' to='example.com' version='1.0'>",
        b"",
    ),
    (
        "undeclared-other-prefix-on-root",
        b"",
        b"<foo:stream xmlns:stream='http://etherx.jabber.org/streams'>",
        b"",
    ),
    ("empty-prefix-on-root", b"", b"<stream:stream xmlns:stream=''>", b""),
    # declarations in the wrong place (Prosody #8)
    ("declaration-mid-stream", HEADER, XML_DECLARATION, b""),
    ("declaration-in-stanza", IN_MESSAGE, XML_DECLARATION, END_MESSAGE),
    ("declaration-after-whitespace", b" ", XML_DECLARATION, HEADER),
    ("second-declaration", XML_DECLARATION, XML_DECLARATION, HEADER),
    ("declaration-without-space", b"", b"<?xml?>", HEADER),
    ("declaration-target-then-question", HEADER, b"<?xml?>", b""),
    # the declaration's own rules (Prosody #44)
    ("declaration-version-1.1", b"", b"<?xml version='1.1'?>", HEADER),
    ("declaration-version-missing", b"", b"<?xml encoding='UTF-8'?>", HEADER),
    (
        "declaration-wrong-order",
        b"",
        b"<?xml version='1.0' standalone='yes' encoding='UTF-8'?>",
        HEADER,
    ),
    ("declaration-standalone-maybe", b"", b"<?xml version='1.0' standalone='maybe'?>", HEADER),
    ("declaration-mixed-quotes", b"", b"<?xml version='1.0\"?>", HEADER),
    ("declaration-unseparated", b"", b"<?xml version='1.0'encoding='UTF-8'?>", HEADER),
    ("declaration-bad-encoding-name", b"", b"<?xml version='1.0' encoding='8BIT'?>", HEADER),
    ("declaration-empty-encoding", b"", b"<?xml version='1.0' encoding=''?>", HEADER),
    ("declaration-unknown-pseudo-attribute", b"", b"<?xml version='1.0' foo='bar'?>", HEADER),
    ("declaration-uppercase-version", b"", b"<?xml VERSION='1.0'?>", HEADER),
    ("declaration-encoding-with-space", b"", b"<?xml version='1.0' encoding=' UTF-8'?>", HEADER),
    # other `<!`
    ("bang-other", HEADER, b"<!ELEMENT x ANY>", b""),
    ("bang-lowercase-doctype", HEADER, b"<!doctype foo>", b""),
    ("bang-dash-once", HEADER, b"<!-x", b""),
    ("bang-cdata-misspelt", IN_MESSAGE, b"<![CDATX[", b""),
    ("bang-bracket-lowercase", IN_MESSAGE, b"<![c", b""),
    ("bang-doctype-misspelt", HEADER, b"<!DOCTYPO", b""),
    ("bang-cdata-misspelt-at-depth-1", HEADER, b"<![CDATA(", b""),
    ("pi-empty-target", HEADER, b"<??>", b""),
    ("pi-target-starts-with-digit", HEADER, b"<?1abc ?>", b""),
    ("pi-target-starts-with-dash", HEADER, b"<?-x ?>", b""),
    ("declaration-target-then-nul", b"", b"<?xml\x00", b""),
    ("cdata-before-the-root", b"", b"<![CDATA[", HEADER),
    # before the root (Prosody #46, #47)
    ("byte-order-mark", b"", b"\xef\xbb\xbf", HEADER),
    ("text-before-root", b"", b"hello", HEADER),
    ("text-after-whitespace-before-root", b"\r\n ", b"x", HEADER),
    ("http-request", b"", b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", b""),
    ("tls-client-hello", b"", TLS_CLIENT_HELLO, b""),
    ("control-char-before-root", b"", b"\x01", HEADER),
    ("utf-8-lead-before-root", b"", "\u00e9".encode(), HEADER),
    ("end-tag-before-root", b"", b"</stream:stream>", b""),
    ("end-tag-with-attributes-before-root", b"", b"</stream:stream xmlns:stream='x'/>", b""),
    # after the root
    ("element-after-close", HEADER + CLOSE, b"<presence/>", b""),
    ("text-after-close", HEADER + CLOSE + b"\n", b"x", b""),
    ("header-after-close", HEADER + CLOSE, HEADER, b""),
    ("non-ascii-after-close", HEADER + CLOSE, "\u00e9".encode(), b""),
    ("after-self-closing-root", HEADER[:-1] + b"/> ", b"<a/>", b""),
    # end of input inside the stream
    ("eof-after-header", HEADER, b"", b"", True),
    ("eof-in-stanza", IN_BODY + b"hi", b"", b"", True),
    ("eof-in-start-tag", HEADER + b"<message to='a", b"", b"", True),
    ("eof-in-header", HEADER[:-1], b"", b"", True),
    ("eof-in-declaration", b"<?xml version='1.0'", b"", b"", True),
    ("eof-after-depth-1-text", HEADER + b"hello", b"", b"", True),
    ("eof-in-cdata", IN_BODY + b"<![CDATA[abc", b"", b"", True),
    ("eof-in-truncated-sequence", IN_BODY + b"\xe4\xb8", b"", b"", True),
    ("eof-in-declaration-without-end", b"<?xml version='1.0' ", b"", b"", True),
    ("eof-in-pi-target", HEADER + b"<?abc", b"", b"", True),
    ("eof-in-bang", HEADER + b"<!DOCTY", b"", b"", True),
    ("eof-in-quoted-gt", HEADER + b"<a b='>", b"", b"", True),
    # the order of checks in a start tag
    ("name-before-attributes", HEADER, b"<1a x='&foo;'/>", b""),
    ("bad-name-before-undeclared-prefix", HEADER, b"<p:1a/>", b""),
    ("literal-duplicate-before-entity", HEADER, b"<a y='1' y='&e;'/>", b""),
    ("undeclared-before-duplicate", HEADER, b"<a p:x='1' p:x='2'/>", b""),
    ("declarations-before-element-prefix", HEADER, b"<p:a xmlns:q=''/>", b""),
    (
        "namespaces-before-invalid-namespace",
        b"",
        b"<stream:stream xmlns:stream='urn:wrong' xmlns:p=''>",
        b"",
    ),
    ("namespaces-before-version", b"", HEADER[:-1] + b" version='x' xmlns:p=''>", b""),
    ("first-offending-character-in-text", IN_BODY, b"\x02 &foo;", END_BODY),
)

INVALID_NAMESPACE = cases(
    "invalid-namespace",
    # Prosody #30, #31, #32
    (
        "wrong-streams-namespace",
        b"",
        b"<stream:stream xmlns:stream='http://example.com/wrong'>",
        b"",
    ),
    (
        "wrong-local-name",
        b"",
        b"<stream:strem xmlns:stream='http://etherx.jabber.org/streams'>",
        b"",
    ),
    ("foo-root", b"", b"<foo/>", b""),
    ("foo-root-in-client-namespace", b"", b"<foo xmlns='jabber:client'>", b""),
    ("unprefixed-root-in-client-namespace", b"", b"<stream xmlns='jabber:client'>", b""),
    (
        "streams-namespace-with-slash",
        b"",
        b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams/'>",
        b"",
    ),
    (
        "streams-namespace-case",
        b"",
        b"<stream:stream xmlns:stream='HTTP://etherx.jabber.org/streams'>",
        b"",
    ),
    (
        "local-name-case",
        b"",
        b"<stream:Stream xmlns:stream='http://etherx.jabber.org/streams'>",
        b"",
    ),
    (
        "prefix-swapped",
        b"",
        b"<stream:stream xmlns='http://etherx.jabber.org/streams' xmlns:stream='jabber:client'>",
        b"",
    ),
    (
        "after-declaration-and-whitespace",
        XML_DECLARATION + b"\n ",
        b"<features xmlns='jabber:client'/>",
        b"",
    ),
    ("before-version-check", b"", b"<stream:stream xmlns:stream='urn:x' version='x'>", b""),
    (
        "self-closing",
        b"",
        b"<stream:features xmlns:stream='http://etherx.jabber.org/streams'/>",
        b"",
    ),
)

UNSUPPORTED_VERSION = cases(
    "unsupported-version",
    ("version-1", b"", HEADER.replace(b"'1.0'", b"'1'"), b""),
    ("version-empty", b"", HEADER.replace(b"'1.0'", b"''"), b""),
    ("version-letters", b"", HEADER.replace(b"'1.0'", b"'a.b'"), b""),
    ("version-three-parts", b"", HEADER.replace(b"'1.0'", b"'1.0.0'"), b""),
    ("version-leading-space", XML_DECLARATION, HEADER.replace(b"'1.0'", b"' 1.0'"), b""),
)

ALL_CASES = (
    RESTRICTED + UNSUPPORTED_ENCODING + NOT_WELL_FORMED + INVALID_NAMESPACE + UNSUPPORTED_VERSION
)


@pytest.mark.parametrize("case", ALL_CASES)
def test_error_condition_and_offset(StreamParser, case: Case):
    assert case.data.startswith(case.before)
    for name, chunks in chunkings(case.data, extra_points=[case.offset, case.offset + 1]).items():
        outcome = feed_chunks(StreamParser(), chunks, close=case.close)
        assert outcome.exception is not None, f"{name}: no error, events {outcome.events}"
        assert type(outcome.exception) is RemoteProtocolError
        assert outcome.error == (case.condition, case.offset), name


@pytest.mark.parametrize("case", ALL_CASES)
def test_error_for_every_cut_near_it(StreamParser, case: Case):
    # a scanner that resumes a cut token must find the same error wherever the cut falls
    data = case.data
    near = set(range(case.offset - 12, case.offset + 14))
    near |= set(range(len(data) - 4, len(data)))
    for cut in sorted(p for p in near if 0 < p < len(data)):
        outcome = feed_chunks(StreamParser(), [data[:cut], data[cut:]], close=case.close)
        assert outcome.error == (case.condition, case.offset), cut


def test_every_condition_of_the_mapping_is_covered():
    assert {case.values[0].condition for case in ALL_CASES} == {
        "restricted-xml",
        "unsupported-encoding",
        "not-well-formed",
        "invalid-namespace",
        "unsupported-version",
    }


# -- judged at once, without waiting for more -----------------------------------------------


@pytest.mark.parametrize(
    ("data", "condition", "offset"),
    [
        (HEADER + b"<!--", "restricted-xml", len(HEADER)),
        (HEADER + b"<!DOCTYPE", "restricted-xml", len(HEADER)),
        (HEADER + b"<?pi ", "restricted-xml", len(HEADER)),
        (HEADER + b"<!x", "not-well-formed", len(HEADER)),
        (b"<![CDATA[", "not-well-formed", 0),
        (b"x", "not-well-formed", 0),
        (b"\xff", "unsupported-encoding", 0),
        (b"<\x00", "unsupported-encoding", 0),
        (b"\x00", "unsupported-encoding", 0),
        (HEADER + CLOSE + b"<", "not-well-formed", len(HEADER + CLOSE)),
        (HEADER + CLOSE + b"\xc3", "not-well-formed", len(HEADER + CLOSE)),
        (HEADER + CLOSE + b"\xc0", "unsupported-encoding", len(HEADER + CLOSE)),
    ],
)
def test_some_errors_need_no_more_bytes(StreamParser, data, condition, offset):
    parser = StreamParser()
    for chunk in (data[:-1], data[-1:]):
        if not chunk:
            continue
        try:
            parser.feed(chunk)
        except RemoteProtocolError as exc:
            assert (exc.condition, exc.offset) == (condition, offset)
            return
    pytest.fail("no error before end of input")


@pytest.mark.parametrize(
    ("token", "condition"),
    [(b" <?pi ", "restricted-xml"), (b" <!--", "restricted-xml"), (b" <!x", "not-well-formed")],
)
def test_a_complete_bad_token_in_an_unfinished_element_fails_in_its_feed(
    StreamParser, token, condition
):
    # The element is still open, but the token is complete: its error can't wait for
    # the element's end (nor for another feed).
    data = HEADER + b"<message><body>" + b"x" * 600 + token
    with pytest.raises(RemoteProtocolError) as caught:
        StreamParser().feed(data)
    assert (caught.value.condition, caught.value.offset) == (condition, data.index(token) + 1)


# -- accepted: the constructs the mapping must not catch --------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        # Prosody #12, #13
        b"&amp;&lt;&gt;&apos;&quot;&#65;&#x263a;",
        b"<![CDATA[<x>&foo;]]>",
        b"<![CDATA[]]>",
        b"<![CDATA[]]]]>",
        b"]]",
        b"] ]>",
        b"&#9;&#xA;&#xD;&#x20;&#xD7FF;&#xE000;&#xFFFD;&#x10000;&#x10FFFF;",
        b"&#0065;&#x0000041;&#x00000000000000041;",
        b"&#x41;&#x6a;",
        b"\t\r\n \x7f\xc2\x80\xc2\x85\xed\x9f\xbf"
        b"\xee\x80\x80\xef\xbf\xbd\xf0\x90\x80\x80\xf4\x8f\xbf\xbf",
        b"a > b",
        "\u00e9\u4e2d\U0001f600".encode(),
    ],
)
def test_legal_text_is_accepted(StreamParser, body):
    raw = b"<message><body>" + body + b"</body></message>"
    for name, chunks in chunkings(HEADER + raw).items():
        outcome = feed_chunks(StreamParser(), chunks)
        assert outcome.error is None, name
        assert outcome.events[-1].raw == raw, name


@pytest.mark.parametrize(
    "tag",
    [
        b"<message to=']]>' id='\"' type=\"'\"/>",
        b"<message to='&#x9;&#10;&#13;'/>",
        b"<message xml:lang='en' xmlns:xml='http://www.w3.org/XML/1998/namespace'/>",
        b"<message xmlns=''/>",
        b"<p:a xmlns:p='urn:p' p:x='1' x='2'/>",
        b"<message xmlns:p='urn:p' xmlns:q='urn:q' p:x='1' q:x='2'/>",
        "<\u00e9l\u00e9ment \u4e2d='1' a\u00b7b='2'/>".encode(),
        "<a\u0300\u203f/>".encode(),
        "<\u20ac/>".encode(),
        "<\U00010000/>".encode(),
        b"<_a-b.c_d/>",
        b"<a  x = '1'\t\n/>",
    ],
)
def test_legal_start_tags_are_accepted(StreamParser, tag):
    outcome = feed_chunks(StreamParser(), [HEADER + tag])
    assert outcome.error is None
    assert outcome.events[-1].raw == tag


def test_text_at_depth_1_is_not_an_error(StreamParser):
    # Prosody #17, #18: text and whitespace between stanzas are reported, not refused
    outcome = feed_chunks(StreamParser(), [HEADER + b" hello <presence/> "])
    assert outcome.error is None
    assert [type(e).__name__ for e in outcome.events] == [
        "StreamOpened",
        "WhitespaceReceived",
        "TextReceived",
        "ElementReceived",
        "WhitespaceReceived",
    ]


def test_cdata_at_depth_1_is_text_of_its_own(StreamParser):
    data = HEADER + b"ab<![CDATA[ <x> ]]><![CDATA[  ]]>cd<a/>"
    for name, chunks in chunkings(data).items():
        outcome = feed_chunks(StreamParser(), chunks)
        assert outcome.error is None, name
        texts = [e for e in outcome.events if type(e).__name__ == "TextReceived"]
        assert [e.raw for e in texts] == [b"ab", b"<![CDATA[ <x> ]]>", b"<![CDATA[  ]]>", b"cd"]
        assert [e.text for e in texts] == ["ab", " <x> ", "  ", "cd"], name


def test_end_of_input_after_an_earlier_error_reports_the_earlier_one(StreamParser):
    data = IN_BODY + b"&foo; and more"
    parser = StreamParser()
    parser.feed(data)
    with pytest.raises(RemoteProtocolError) as info:
        parser.close()
    # the text token is incomplete: end of input is the first error found
    assert (info.value.condition, info.value.offset) == ("not-well-formed", len(data))
    parser = StreamParser()
    with pytest.raises(RemoteProtocolError) as info:
        parser.feed(IN_BODY + b"&foo;<b>")
        parser.close()
    assert (info.value.condition, info.value.offset) == ("restricted-xml", len(IN_BODY))


@pytest.mark.parametrize("before", [HEADER, IN_MESSAGE], ids=["top-level", "nested"])
@pytest.mark.parametrize(
    ("uri", "message"),
    [
        (
            b"http://www.w3.org/XML/1998/namespace",
            "the XML namespace bound to a prefix other than 'xml'",
        ),
        (b"http://www.w3.org/2000/xmlns/", "the xmlns namespace cannot be declared"),
    ],
    ids=["xml", "xmlns"],
)
def test_a_reserved_uri_as_default_namespace_is_named_in_the_error(
    StreamParser, before, uri, message
):
    # The twins say the same, whichever of their paths reads the declaration.
    with pytest.raises(RemoteProtocolError) as info:
        StreamParser().feed(before + b"<x a='1' xmlns='" + uri + b"'/>")
    assert (info.value.condition, info.value.offset) == ("not-well-formed", len(before))
    assert str(info.value).startswith(message + " (")


# -- sweeps against independent oracles ----------------------------------------------------------


def xml_char(cp: int) -> bool:
    return (
        cp in (0x9, 0xA, 0xD)
        or 0x20 <= cp <= 0xD7FF
        or 0xE000 <= cp <= 0xFFFD
        or 0x10000 <= cp <= 0x10FFFF
    )


NAME_START_RANGES = [
    (ord(":"), ord(":")),
    (ord("A"), ord("Z")),
    (ord("_"), ord("_")),
    (ord("a"), ord("z")),
    (0xC0, 0xD6),
    (0xD8, 0xF6),
    (0xF8, 0x2FF),
    (0x370, 0x37D),
    (0x37F, 0x1FFF),
    (0x200C, 0x200D),
    (0x2070, 0x218F),
    (0x2C00, 0x2FEF),
    (0x3001, 0xD7FF),
    (0xF900, 0xFDCF),
    (0xFDF0, 0xFFFD),
    (0x10000, 0xEFFFF),
]
NAME_EXTRA_RANGES = [
    (ord("-"), ord("-")),
    (ord("."), ord(".")),
    (ord("0"), ord("9")),
    (0xB7, 0xB7),
    (0x300, 0x36F),
    (0x203F, 0x2040),
]


def name_start_char(cp: int) -> bool:
    return any(lo <= cp <= hi for lo, hi in NAME_START_RANGES)


def name_char(cp: int) -> bool:
    return name_start_char(cp) or any(lo <= cp <= hi for lo, hi in NAME_EXTRA_RANGES)


#: Every edge of XML 1.0 5th edition's name ranges, one code point either side.
NAME_PROBES = sorted(
    {
        cp
        for lo, hi in NAME_START_RANGES + NAME_EXTRA_RANGES
        for cp in (lo - 1, lo, hi, hi + 1)
        if 0x21 <= cp <= 0x10FFFF
        and chr(cp) not in "<>/='\"&:"
        and xml_char(cp)
        and not chr(cp).isspace()
    }
    | {0xF0000, 0x10FFFD}
)


@pytest.mark.parametrize("cp", NAME_PROBES, ids=lambda cp: f"U+{cp:04X}")
def test_name_characters_follow_xml_1_0_fifth_edition(StreamParser, cp):
    char = chr(cp).encode()
    cases = [
        (b"<" + char + b"a/>", name_start_char(cp)),
        (b"<a" + char + b"/>", name_char(cp)),
        (b"<m " + char + b"a='1'/>", name_start_char(cp)),
        (b"<m a" + char + b"='1'/>", name_char(cp)),
    ]
    for tag, legal in cases:
        outcome = feed_chunks(StreamParser(), [HEADER + tag])
        expected = None if legal else ("not-well-formed", len(HEADER))
        assert outcome.error == expected, tag


CHAR_PROBES = sorted(
    {0x0, 0x8, 0x9, 0xA, 0xB, 0xC, 0xD, 0xE, 0x1F, 0x20, 0x7F, 0x80, 0x9F, 0xD7FF, 0xE000}
    | {0xFFFD, 0xFFFE, 0xFFFF, 0x10000, 0x10FFFF, 0x110000, 0xD800, 0xDBFF, 0xDC00, 0xDFFF}
)


@pytest.mark.parametrize("cp", CHAR_PROBES, ids=lambda cp: f"U+{cp:04X}")
def test_character_references_are_legal_exactly_for_xml_chars(StreamParser, cp):
    for ref in (b"&#%d;" % cp, b"&#x%X;" % cp, b"&#x%x;" % cp, b"&#000%d;" % cp):
        for where, data, offset in (
            ("text", IN_BODY + b"a" + ref + END_BODY, len(IN_BODY) + 1),
            ("attribute", HEADER + b"<m a='" + ref + b"'/>", len(HEADER)),
            ("depth-1", HEADER + b"a" + ref + b"<m/>", len(HEADER) + 1),
        ):
            outcome = feed_chunks(StreamParser(), [data])
            expected = None if xml_char(cp) else ("not-well-formed", offset)
            assert outcome.error == expected, (where, ref)


@pytest.mark.parametrize(
    "cp",
    [cp for cp in CHAR_PROBES if cp < 0x110000 and not 0xD800 <= cp <= 0xDFFF],
    ids=lambda cp: f"U+{cp:04X}",
)
def test_raw_characters_are_legal_exactly_for_xml_chars(StreamParser, cp):
    raw = chr(cp).encode()
    for where, data, offset in (
        ("text", IN_BODY + b"a" + raw + END_BODY, len(IN_BODY) + 1),
        ("cdata", IN_BODY + b"<![CDATA[a" + raw + b"]]>" + END_BODY, len(IN_BODY) + 10),
        ("attribute", HEADER + b"<m a='" + raw + b"'/>", len(HEADER)),
        ("depth-1", HEADER + b"a" + raw + b"<m/>", len(HEADER) + 1),
    ):
        outcome = feed_chunks(StreamParser(), [data])
        expected = None if xml_char(cp) else ("not-well-formed", offset)
        assert outcome.error == expected, where


def utf8_oracle(sequence: bytes) -> tuple[str, int] | None:
    """What the contract says of ``sequence`` in text: CPython's decoder decides the offset."""
    try:
        text = sequence.decode("utf-8")
    except UnicodeDecodeError as exc:
        return ("unsupported-encoding", exc.start)
    for index, char in enumerate(text):
        if not xml_char(ord(char)):
            return ("not-well-formed", len(text[:index].encode()))
    return None


UTF8_SECOND = [0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xE0]
UTF8_THIRD = [0x41, 0x80, 0xBF, 0xC2]


@pytest.mark.parametrize("lead", range(0x80, 0x100), ids=lambda b: f"{b:02X}")
def test_utf8_sequences_against_cpythons_decoder(StreamParser, lead):
    for second in UTF8_SECOND:
        for third in UTF8_THIRD:
            sequence = bytes([lead, second, third, 0x80, 0x41])
            verdict = utf8_oracle(sequence)
            data = IN_BODY + sequence + END_BODY
            outcome = feed_chunks(StreamParser(), [data])
            expected = None if verdict is None else (verdict[0], len(IN_BODY) + verdict[1])
            assert outcome.error == expected, sequence


# -- every special byte at every position of a word ----------------------------------------------
#
# Fast scanners read several bytes at a time; these put each byte that ends or breaks a run at
# each offset within a 32-byte stretch, in attribute values, text, CDATA, and depth-1 text.

SPECIAL = {
    b'"': None,
    b">": None,
    b"\t": None,
    b"\r": None,
    b"\x7f": None,
    b"\xc3\xa9": None,
    b"\xf0\x9f\x98\x80": None,
    b"\x00": "not-well-formed",
    b"\x01": "not-well-formed",
    b"\x1f": "not-well-formed",
    b"\xff": "unsupported-encoding",
    b"\x80": "unsupported-encoding",
    b"\xc3": "unsupported-encoding",
    b"\xef\xbf\xbe": "not-well-formed",
}


@pytest.mark.parametrize("special", list(SPECIAL), ids=lambda b: b.hex())
def test_special_bytes_at_every_position(StreamParser, special):
    condition = SPECIAL[special]
    for pad in range(33):
        filler_before, filler_after = b"a" * pad, b"b" * (40 - pad)
        run = filler_before + special + filler_after
        places = [
            ("attribute", HEADER + b"<m a='", run, b"'/>", True),
            ("attribute-double", HEADER + b'<m a="', run.replace(b'"', b"'"), b'"/>', True),
            ("text", IN_BODY, run, END_BODY, False),
            ("cdata", IN_BODY + b"<![CDATA[", run, b"]]>" + END_BODY, False),
            ("depth-1", HEADER + b"x", run, b"<m/>", False),
        ]
        for where, before, middle, after, markup in places:
            data = before + middle + after
            outcome = feed_chunks(StreamParser(), [data])
            if condition is None:
                assert outcome.error is None, (where, pad)
                continue
            at = len(before) + pad
            if markup and condition == "not-well-formed":
                at = before.rindex(b"<")
            assert outcome.error == (condition, at), (where, pad)


@pytest.mark.parametrize(
    "special", [b"<", b"&", b"'", b"]]>"], ids=["lt", "amp", "quote", "cdata-end"]
)
def test_markup_bytes_at_every_position(StreamParser, special):
    for pad in range(33):
        run = b"a" * pad + special + b"b" * (40 - pad)
        start = len(HEADER)
        # in a single-quoted value: `<` and a bare `&` are errors, a quote ends the value early
        # (after a quote that ends the value early, the next quote hides `/>`: close it)
        tail = b"'/>'>" if special == b"'" else b"'/>"
        outcome = feed_chunks(StreamParser(), [HEADER + b"<m a='" + run + tail])
        if special == b"]]>":
            assert outcome.error is None, pad
        else:
            assert outcome.error == ("not-well-formed", start), pad
        # in text: `&` and `]]>` are errors at themselves, `'` is fine
        outcome = feed_chunks(StreamParser(), [IN_BODY + run + END_BODY])
        if special in (b"&", b"]]>"):
            assert outcome.error == ("not-well-formed", len(IN_BODY) + pad), pad
        elif special == b"'":
            assert outcome.error is None, pad
        else:
            # `<b...` opens a tag that `</body>` can't close
            assert outcome.error is not None and outcome.error[0] == "not-well-formed", pad


# -- the table itself, checked against expat ------------------------------------------------------

#: Where the contract is stricter than XML 1.0 (or judges earlier than expat can).
STRICTER_THAN_EXPAT = {
    "declaration-version-1.1": "XML 1.0 5th edition processors may take version 1.1",
    "byte-order-mark": "XML allows a BOM; the contract doesn't",
    "bang-bracket-lowercase": "expat waits for more bytes after `<![c`",
    "declared-iso-8859-1": "expat is told the stream is UTF-8 whatever it declares",
    "declared-utf-16": "same",
    "declared-utf8-without-dash": "same",
    "declared-ascii": "same",
}


def expat_refuses(data: bytes) -> bool:
    parser = pyexpat.ParserCreate(encoding="UTF-8", namespace_separator="\x01")
    try:
        parser.Parse(data, False)
    except pyexpat.ExpatError:
        return True
    return False


@pytest.mark.parametrize(
    "case",
    [
        param
        for param in NOT_WELL_FORMED + UNSUPPORTED_ENCODING
        if not param.values[0].close and param.values[0].id not in STRICTER_THAN_EXPAT
    ],
)
def test_expat_refuses_what_the_table_calls_malformed(case: Case):
    assert expat_refuses(case.data), case.id


def test_expat_takes_what_the_contract_is_stricter_about():
    ids = {param.values[0].id: param.values[0] for param in ALL_CASES}
    for case_id in STRICTER_THAN_EXPAT:
        assert not expat_refuses(ids[case_id].data), case_id
