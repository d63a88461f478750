"""``<stream:error/>`` (RFC 6120 §4.9): building ours, reading the peer's."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from ..errors import STREAM_ERROR_CONDITIONS, LocalProtocolError
from ..events import XML_NS, ElementReceived
from .serialize import check_utf8_xml, escape_attribute, escape_text

__all__ = ["STREAM_ERRORS_NS", "StreamError", "build_stream_error", "parse_stream_error"]

STREAM_ERRORS_NS = "urn:ietf:params:xml:ns:xmpp-streams"


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamError:
    """One stream error, as sent or received."""

    #: One of the 25 conditions of RFC 6120 §4.9.3. A received error whose
    #: condition is missing or unknown reads as ``undefined-condition``.
    condition: str
    #: The human-readable ``<text/>``, if any.
    text: str | None = None
    #: ``xml:lang`` of the text.
    lang: str | None = None
    #: Character data of the condition element itself: the new address for
    #: ``see-other-host``, otherwise normally ``None``.
    condition_text: str | None = None
    #: ``(namespace, local name)`` of an application-specific condition element.
    application_condition: tuple[str, str] | None = None
    #: That element serialized again by ElementTree (received), or as given (sent).
    application_raw: bytes | None = None
    #: The whole ``<stream:error>`` element as received (empty for ours).
    raw: bytes = b""


def build_stream_error(
    condition: str,
    *,
    text: str | None = None,
    lang: str | None = None,
    condition_text: str | None = None,
    application_condition: bytes | str | None = None,
    stream_prefix: str = "stream",
) -> bytes:
    """The ``<stream:error>`` element for ``condition``.

    ``application_condition`` is a complete element in its own namespace
    (``<too-many-hosts xmlns='urn:example'/>``), written as given after a
    character check.
    """
    if condition not in STREAM_ERROR_CONDITIONS:
        raise LocalProtocolError(f"not an RFC 6120 stream error condition: {condition!r}")
    parts = [f"<{stream_prefix}:error>" if stream_prefix else "<error>"]
    if condition_text:
        parts.append(
            f"<{condition} xmlns='{STREAM_ERRORS_NS}'>{escape_text(condition_text)}</{condition}>"
        )
    else:
        parts.append(f"<{condition} xmlns='{STREAM_ERRORS_NS}'/>")
    if text is not None:
        lang_attr = f" xml:lang='{escape_attribute(lang)}'" if lang else ""
        parts.append(f"<text xmlns='{STREAM_ERRORS_NS}'{lang_attr}>{escape_text(text)}</text>")
    out = "".join(parts).encode("utf-8")
    if application_condition is not None:
        if isinstance(application_condition, str):
            application_condition = application_condition.encode("utf-8")
        out += check_utf8_xml(bytes(application_condition))
    close = f"</{stream_prefix}:error>" if stream_prefix else "</error>"
    return out + close.encode()


def parse_stream_error(element: ElementReceived) -> StreamError:
    """Read a received ``<stream:error>``; tolerant, since the stream is ending anyway."""
    tree = element.element()
    condition = None
    condition_text = None
    text = None
    lang = None
    app: tuple[str, str] | None = None
    app_raw: bytes | None = None
    for child in tree:
        uri, _, local = (
            child.tag[1:].partition("}") if child.tag.startswith("{") else ("", "", child.tag)
        )
        if uri == STREAM_ERRORS_NS:
            if local == "text":
                text = child.text or ""
                lang = child.get(f"{{{XML_NS}}}lang")
            elif condition is None and local in STREAM_ERROR_CONDITIONS:
                condition = local
                condition_text = (child.text or "").strip() or None
        elif app is None:
            app = (uri, local)
            tail, child.tail = child.tail, None
            app_raw = ET.tostring(child, encoding="utf-8", xml_declaration=False)
            child.tail = tail
    return StreamError(
        condition=condition or "undefined-condition",
        text=text,
        lang=lang,
        condition_text=condition_text,
        application_condition=app,
        application_raw=app_raw,
        raw=element.raw,
    )
