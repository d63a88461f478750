"""Stream headers and ``<stream:features/>``, built and read (RFC 6120 §4.3, §4.7)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from ..events import STREAMS_NS, ElementReceived
from .serialize import escape_attribute

__all__ = [
    "BIND_NS",
    "SASL_NS",
    "SESSION_NS",
    "TLS_NS",
    "StreamFeatures",
    "build_features",
    "build_header",
    "new_stream_id",
    "parse_features",
]

TLS_NS = "urn:ietf:params:xml:ns:xmpp-tls"
SASL_NS = "urn:ietf:params:xml:ns:xmpp-sasl"
BIND_NS = "urn:ietf:params:xml:ns:xmpp-bind"
SESSION_NS = "urn:ietf:params:xml:ns:xmpp-session"


def new_stream_id() -> str:
    """A fresh stream id: 128 random bits, unpredictable as RFC 6120 §4.7.3 asks."""
    return secrets.token_hex(16)


def build_header(
    *,
    content_namespace: str,
    to: str | None = None,
    from_: str | None = None,
    id: str | None = None,
    version: tuple[int, int] | None = (1, 0),
    lang: str | None = "en",
    declaration: bool = True,
) -> bytes:
    """Our ``<stream:stream ...>`` start tag, optionally after an XML declaration."""
    attrs = [f"xmlns='{escape_attribute(content_namespace)}'", f"xmlns:stream='{STREAMS_NS}'"]
    if to is not None:
        attrs.append(f"to='{escape_attribute(to)}'")
    if from_ is not None:
        attrs.append(f"from='{escape_attribute(from_)}'")
    if id is not None:
        attrs.append(f"id='{escape_attribute(id)}'")
    if version is not None:
        attrs.append(f"version='{version[0]}.{version[1]}'")
    if lang:
        attrs.append(f"xml:lang='{escape_attribute(lang)}'")
    head = "<?xml version='1.0'?>" if declaration else ""
    return f"{head}<stream:stream {' '.join(attrs)}>".encode()


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamFeatures:
    """What a ``<stream:features/>`` offers, as far as the session negotiates it."""

    starttls: bool = False
    #: ``<starttls><required/></starttls>``: mandatory-to-negotiate.
    starttls_required: bool = False
    #: SASL mechanisms, in the receiving entity's order.
    mechanisms: tuple[str, ...] = ()
    bind: bool = False
    #: Every child as ``(namespace, local name)``, in order, ours and others.
    children: tuple[tuple[str, str], ...] = ()
    raw: bytes = b""


def parse_features(element: ElementReceived) -> StreamFeatures:
    tree = element.element()
    starttls = required = bind = False
    mechanisms: list[str] = []
    children: list[tuple[str, str]] = []
    for child in tree:
        uri, _, local = (
            child.tag[1:].partition("}") if child.tag.startswith("{") else ("", "", child.tag)
        )
        children.append((uri, local))
        if (uri, local) == (TLS_NS, "starttls"):
            starttls = True
            required = child.find(f"{{{TLS_NS}}}required") is not None
        elif (uri, local) == (SASL_NS, "mechanisms"):
            mechanisms.extend(
                (m.text or "").strip() for m in child.findall(f"{{{SASL_NS}}}mechanism")
            )
        elif (uri, local) == (BIND_NS, "bind"):
            bind = True
    return StreamFeatures(
        starttls=starttls,
        starttls_required=required,
        mechanisms=tuple(m for m in mechanisms if m),
        bind=bind,
        children=tuple(children),
        raw=element.raw,
    )


def build_features(
    *,
    starttls: bool = False,
    starttls_required: bool = False,
    mechanisms: tuple[str, ...] = (),
    bind: bool = False,
) -> bytes:
    parts = ["<stream:features>"]
    if starttls:
        inner = "<required/>" if starttls_required else ""
        parts.append(
            f"<starttls xmlns='{TLS_NS}'>{inner}</starttls>"
            if inner
            else f"<starttls xmlns='{TLS_NS}'/>"
        )
    if mechanisms:
        listed = "".join(f"<mechanism>{m}</mechanism>" for m in mechanisms)
        parts.append(f"<mechanisms xmlns='{SASL_NS}'>{listed}</mechanisms>")
    if bind:
        parts.append(f"<bind xmlns='{BIND_NS}'/>")
    if len(parts) == 1:
        return b"<stream:features/>"
    parts.append("</stream:features>")
    return "".join(parts).encode()


def is_features(element: ElementReceived) -> bool:
    return element.namespace == STREAMS_NS and element.name == "features"
