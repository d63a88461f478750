"""Outgoing XML: serialized elements read back the same through expat; bad characters stop here."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xmppwire import LocalProtocolError
from xmppwire.session.serialize import (
    check_chars,
    escape_attribute,
    escape_text,
    serialize_element,
)

XML = "{http://www.w3.org/XML/1998/namespace}"


def read_back(data: bytes, default: str = "jabber:client") -> ET.Element:
    return ET.fromstring(b"<s xmlns='" + default.encode() + b"'>" + data + b"</s>")[0]


def same(a: ET.Element, b: ET.Element) -> bool:
    return (
        a.tag == b.tag
        and a.attrib == b.attrib
        and (a.text or "") == (b.text or "")
        and (a.tail or "") == (b.tail or "")
        and len(a) == len(b)
        and all(same(x, y) for x, y in zip(a, b, strict=True))
    )


def test_namespaces_are_declared_where_they_change():
    message = ET.Element("{jabber:client}message", {XML + "lang": "en", "to": "a@b"})
    x = ET.SubElement(message, "{jabber:x:oob}x", {"{urn:example:attr}kind": "v"})
    ET.SubElement(x, "{jabber:x:oob}url").text = "http://example.com/?a=1&b=2"
    data = serialize_element(message, "jabber:client")
    assert data.startswith(b"<message xml:lang='en' to='a@b'><x xmlns='jabber:x:oob' ")
    assert b"xmlns:ns0='urn:example:attr' ns0:kind='v'" in data
    assert same(read_back(data), message)


def test_attribute_whitespace_survives_normalization():
    element = ET.Element("{jabber:client}iq", {"id": "a\tb\nc\rd 'e' \"f\" <g> &h"})
    assert same(read_back(serialize_element(element, "jabber:client")), element)


def test_text_escaping():
    assert escape_text("]]> & <x>") == "]]&gt; &amp; &lt;x&gt;"
    assert escape_attribute("'\"") == "&apos;&quot;"


@pytest.mark.parametrize("bad", ["\x00", "\x08", "\x1f", "\ud800", "\ufffe", "\uffff"])
def test_illegal_characters_are_refused(bad):
    with pytest.raises(LocalProtocolError):
        check_chars(f"ok{bad}")
    element = ET.Element("{jabber:client}message", {"id": "1"})
    element.text = bad
    with pytest.raises(LocalProtocolError):
        serialize_element(element, "jabber:client")
    element = ET.Element("{jabber:client}message", {"id": bad})
    with pytest.raises(LocalProtocolError):
        serialize_element(element, "jabber:client")


def test_bad_names_and_comments_are_refused():
    with pytest.raises(LocalProtocolError):
        serialize_element(ET.Element("{jabber:client}1message"), "jabber:client")
    with pytest.raises(LocalProtocolError):
        serialize_element(ET.Comment("x"), "jabber:client")


@pytest.mark.hypothesis
@settings(max_examples=200, deadline=None)
@given(
    text=st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40),
    value=st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40),
)
def test_round_trip_or_refusal(text, value):
    """Any text and attribute value is either written so expat gives it back, or refused."""
    element = ET.Element("{jabber:client}message", {"id": value})
    ET.SubElement(element, "{jabber:client}body").text = text
    try:
        data = serialize_element(element, "jabber:client")
    except LocalProtocolError:
        with pytest.raises(LocalProtocolError):
            check_chars(text + value)
        return
    back = read_back(data)
    assert back.get("id") == value
    assert back.findtext("{jabber:client}body") == text
