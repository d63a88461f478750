"""Resource binding (RFC 6120 §7), both sides."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from ..events import ElementReceived
from .negotiation import BIND_NS
from .serialize import escape_attribute, escape_text

__all__ = [
    "STANZAS_NS",
    "BindRequest",
    "BindResult",
    "ResourceBinder",
    "ResourceConflict",
    "build_bind_error",
    "build_bind_request",
    "build_bind_result",
    "default_binder",
    "parse_bind_request",
    "parse_bind_result",
]

STANZAS_NS = "urn:ietf:params:xml:ns:xmpp-stanzas"

#: RFC 6120 §7.6.2 and §8.3.2: the error type that goes with each refusal.
_ERROR_TYPES = {
    "conflict": "cancel",
    "not-allowed": "cancel",
    "bad-request": "modify",
    "resource-constraint": "wait",
}


class ResourceConflict(Exception):
    """Raised by a binder when the resource is taken and may not be replaced."""

    condition = "conflict"


#: ``(bare JID, requested resource or None) -> resource to bind``. It may return
#: another resource than asked (the server overrides) and raises
#: :class:`ResourceConflict` to refuse.
ResourceBinder = Callable[[str, "str | None"], str]


def default_binder(bare: str, requested: str | None) -> str:
    """Grant the resource asked for, or make up a random one."""
    return requested if requested else secrets.token_hex(8)


def build_bind_request(iq_id: str, resource: str | None) -> bytes:
    inner = f"<resource>{escape_text(resource)}</resource>" if resource else ""
    bind = f"<bind xmlns='{BIND_NS}'>{inner}</bind>" if inner else f"<bind xmlns='{BIND_NS}'/>"
    return f"<iq type='set' id='{escape_attribute(iq_id)}'>{bind}</iq>".encode()


def build_bind_result(iq_id: str, jid: str) -> bytes:
    return (
        f"<iq type='result' id='{escape_attribute(iq_id)}'><bind xmlns='{BIND_NS}'>"
        f"<jid>{escape_text(jid)}</jid></bind></iq>"
    ).encode()


def build_bind_error(iq_id: str, condition: str, text: str | None = None) -> bytes:
    kind = _ERROR_TYPES.get(condition, "cancel")
    text_el = f"<text xmlns='{STANZAS_NS}'>{escape_text(text)}</text>" if text else ""
    return (
        f"<iq type='error' id='{escape_attribute(iq_id)}'><error type='{kind}'>"
        f"<{condition} xmlns='{STANZAS_NS}'/>{text_el}</error></iq>"
    ).encode()


@dataclass(frozen=True, slots=True)
class BindRequest:
    iq_id: str
    resource: str | None


def parse_bind_request(element: ElementReceived) -> BindRequest | None:
    """The bind request in an ``<iq type='set'>``, or ``None`` if it isn't one."""
    if element.name != "iq" or element.type != "set":
        return None
    tree = element.element()
    bind = tree.find(f"{{{BIND_NS}}}bind")
    if bind is None:
        return None
    res = bind.find(f"{{{BIND_NS}}}resource")
    resource = (res.text or "") if res is not None else None
    return BindRequest(element.id or "", resource or None)


@dataclass(frozen=True, slots=True)
class BindResult:
    jid: str | None
    condition: str | None = None
    text: str | None = None


def parse_bind_result(element: ElementReceived) -> BindResult:
    tree = element.element()
    if element.type == "result":
        jid = tree.findtext(f"{{{BIND_NS}}}bind/{{{BIND_NS}}}jid")
        return BindResult(jid.strip() if jid else None)
    condition = "undefined-condition"
    text = None
    error = tree.find(f"{{{element.namespace}}}error") if element.namespace else tree.find("error")
    if error is not None:
        for child in error:
            if child.tag == f"{{{STANZAS_NS}}}text":
                text = child.text
            elif child.tag.startswith(f"{{{STANZAS_NS}}}"):
                condition = child.tag.partition("}")[2]
    return BindResult(None, condition, text)
