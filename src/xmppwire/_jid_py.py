"""Pure-Python twin of ``_jid_c``: the JID type, its ASCII fast path and its cache.

Nearly every JID on the wire is ASCII. For those, RFC 7622 comes down to a
split, a few character-class checks and lowercasing (see docs/jid.md), done
here with compiled regular expressions; anything the fast path does not
accept, including every invalid input, goes to the complete PRECIS/IDNA path
in ``_jid_rules`` so that both paths give the same answers.
"""

from __future__ import annotations

import re
import threading
from typing import Any, Final

from . import _jid_rules

__all__ = [
    "DEFAULT_CACHE_SIZE",
    "JID",
    "cache_size",
    "cached_jids",
    "clear_cache",
    "parse_ascii",
    "register_jid_type",
    "set_cache_size",
]

#: Parsed JIDs kept by default, per implementation.
DEFAULT_CACHE_SIZE: Final = 4096

_MAX: Final = _jid_rules.MAX_PART_OCTETS

# Printable ASCII is PVALID in both PRECIS classes (RFC 8264 §9.11, ASCII7),
# except that IdentifierClass has no space; RFC 7622 §3.3.1 removes " & ' / : < > @.
_LOCAL_RE: Final = re.compile(r"[!#-%(-.0-9;=?A-~]{1,1023}", re.ASCII)
_RESOURCE_RE: Final = re.compile(r"[ -~]{1,1023}", re.ASCII)
# NR-LDH labels (RFC 5890 §2.3.1): no hyphen first or last, none in both the
# third and fourth positions, since "xn--" labels need the A-label checks.
_LABEL = r"(?![a-zA-Z0-9-]{2}--)[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
_DOMAIN_RE: Final = re.compile(rf"{_LABEL}(?:\.{_LABEL})*", re.ASCII)


def _ascii_localpart(local: str) -> str | None:
    if local.isascii() and _LOCAL_RE.fullmatch(local) is not None:
        return local.lower()
    return None


def _ascii_domainpart(domain: str) -> str | None:
    if not domain.isascii():
        return None
    if domain.endswith("."):
        domain = domain[:-1]
    if len(domain) > _MAX or _DOMAIN_RE.fullmatch(domain) is None:
        return None
    return domain.lower()


def _ascii_resourcepart(resource: str) -> str | None:
    if resource.isascii() and _RESOURCE_RE.fullmatch(resource) is not None:
        return resource
    return None


def parse_ascii(jid: str) -> tuple[str | None, str, str | None] | None:
    """The enforced parts of an all-ASCII valid JID, or ``None`` for the complete path.

    ``None`` never means invalid, only "not decided here".
    """
    if not jid.isascii():
        return None
    head, slash, resource = jid.partition("/")
    local, at, domain = head.partition("@")
    if not at:
        local, domain = None, head
    enforced_domain = _ascii_domainpart(domain)
    if enforced_domain is None:
        return None
    if local is not None:
        local = _ascii_localpart(local)
        if local is None:
            return None
    if slash:
        if _ascii_resourcepart(resource) is None:
            return None
    else:
        resource = None
    return local, enforced_domain, resource


def _enforce_parts(
    local: str | None, domain: str, resource: str | None
) -> tuple[str | None, str, str | None]:
    for part in (local, domain, resource):
        if part is not None and not isinstance(part, str):
            raise TypeError(f"JID parts are str, not {type(part).__name__}")
    if domain is None:
        raise TypeError("a JID needs a domainpart")
    enforced = (
        None if local is None else _ascii_localpart(local),
        _ascii_domainpart(domain),
        None if resource is None else _ascii_resourcepart(resource),
    )
    if (
        enforced[1] is None
        or (local is not None and enforced[0] is None)
        or (resource is not None and enforced[2] is None)
    ):
        return _jid_rules.enforce_parts(local, domain, resource)
    return enforced  # type: ignore[return-value]


def _enforce(jid: str) -> tuple[str | None, str, str | None]:
    parts = parse_ascii(jid)
    return _jid_rules.enforce(jid) if parts is None else parts


class _Cache:
    """A bounded map from input strings to parsed JIDs.

    Reads take no lock (a dict lookup is atomic, with or without the GIL);
    writes do, so that eviction never races. When full, the oldest entry
    goes: dicts keep insertion order.
    """

    __slots__ = ("data", "lock", "maxsize")

    def __init__(self, maxsize: int) -> None:
        self.data: dict[str, JID] = {}
        self.lock = threading.Lock()
        self.maxsize = maxsize

    def put(self, key: str, value: JID) -> None:
        with self.lock:
            if self.maxsize <= 0:
                return
            data = self.data
            while len(data) >= self.maxsize:
                del data[next(iter(data))]
            data[key] = value

    def resize(self, maxsize: int) -> None:
        if maxsize < 0:
            raise ValueError("the cache size can't be negative")
        with self.lock:
            self.maxsize = maxsize
            data = self.data
            while len(data) > maxsize:
                del data[next(iter(data))]


_CACHE: Final = _Cache(DEFAULT_CACHE_SIZE)


def set_cache_size(maxsize: int) -> None:
    """Keep at most ``maxsize`` parsed JIDs (0 turns the cache off)."""
    _CACHE.resize(maxsize)


def cache_size() -> int:
    """How many parsed JIDs the cache may hold."""
    return _CACHE.maxsize


def cached_jids() -> list[str]:
    """The input strings whose parsed JIDs are cached, oldest first."""
    with _CACHE.lock:
        return list(_CACHE.data)


def clear_cache() -> None:
    """Forget every cached JID."""
    with _CACHE.lock:
        _CACHE.data.clear()


class JID:
    """An XMPP address, enforced per RFC 7622: ``localpart@domainpart/resourcepart``.

    Immutable and hashable; two JIDs are equal when their enforced parts are.
    ``JID(s)`` parses a string and raises :class:`xmppwire.InvalidJID` (a
    ``ValueError``) naming the part and the rule it broke.
    """

    __slots__ = ("__weakref__", "_domainpart", "_hash", "_localpart", "_resourcepart", "_str")

    _localpart: str | None
    _domainpart: str
    _resourcepart: str | None
    _str: str | None
    _hash: int | None

    def __new__(cls, jid: str | JID) -> JID:
        cached = _CACHE.data.get(jid) if type(jid) is str else None
        if cached is not None:
            if cls is JID:
                return cached
            return cls._make(cached._localpart, cached._domainpart, cached._resourcepart)
        if isinstance(jid, str):
            local, domain, resource = _enforce(jid)
        elif type(jid) is cls:
            return jid
        elif isinstance(jid, _JID_TYPES):
            local, domain, resource = jid.localpart, jid.domainpart, jid.resourcepart
        else:
            raise TypeError(f"a JID is parsed from str, not {type(jid).__name__}")
        self = cls._make(local, domain, resource)
        if type(jid) is str and cls is JID:
            _CACHE.put(jid, self)
        return self

    @classmethod
    def _make(cls, local: str | None, domain: str, resource: str | None) -> JID:
        self = object.__new__(cls)
        self._localpart = local
        self._domainpart = domain
        self._resourcepart = resource
        self._str = None
        self._hash = None
        return self

    @classmethod
    def from_parts(
        cls, localpart: str | None, domainpart: str, resourcepart: str | None = None
    ) -> JID:
        """Build a JID from its parts, enforcing each; ``None`` leaves a part out."""
        return cls._make(*_enforce_parts(localpart, domainpart, resourcepart))

    @staticmethod
    def split(jid: str) -> tuple[str | None, str, str | None]:
        """Split without validating: (localpart, domainpart, resourcepart).

        A part is ``None`` when its separator is absent, ``""`` when empty.
        """
        return _jid_rules.split(jid)

    @property
    def localpart(self) -> str | None:
        return self._localpart

    @property
    def domainpart(self) -> str:
        return self._domainpart

    @property
    def resourcepart(self) -> str | None:
        return self._resourcepart

    @property
    def bare(self) -> JID:
        """This JID without its resourcepart."""
        if self._resourcepart is None:
            return self
        return self._make(self._localpart, self._domainpart, None)

    @property
    def is_bare(self) -> bool:
        return self._resourcepart is None

    def with_resource(self, resourcepart: str | None) -> JID:
        """This JID with another resourcepart (enforced), or none for ``None``."""
        if resourcepart is None:
            return self.bare
        enforced = _ascii_resourcepart(resourcepart)
        if enforced is None:
            enforced = _jid_rules.enforce_resourcepart(resourcepart)
        return self._make(self._localpart, self._domainpart, enforced)

    def __str__(self) -> str:
        text = self._str
        if text is None:
            text = self._domainpart
            if self._localpart is not None:
                text = f"{self._localpart}@{text}"
            if self._resourcepart is not None:
                text = f"{text}/{self._resourcepart}"
            self._str = text
        return text

    def __repr__(self) -> str:
        return f"JID({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if isinstance(other, JID):
            return (
                self._domainpart == other._domainpart
                and self._localpart == other._localpart
                and self._resourcepart == other._resourcepart
            )
        return NotImplemented

    def __hash__(self) -> int:
        value = self._hash
        if value is None:
            value = self._hash = hash((self._localpart, self._domainpart, self._resourcepart))
        return value

    def __reduce__(self) -> tuple[Any, ...]:
        return (_unpickle, (self._localpart, self._domainpart, self._resourcepart))


def _unpickle(local: str | None, domain: str, resource: str | None) -> JID:
    # Pickles come from JIDs that were already enforced, but not necessarily
    # by this process or this Unicode version: enforce again.
    return JID.from_parts(local, domain, resource)


_JID_TYPES: tuple[type, ...] = (JID,)


def register_jid_type(cls: type) -> None:
    """Let ``JID(other)`` copy instances of the other implementation's JID."""
    global _JID_TYPES
    if cls not in _JID_TYPES:
        _JID_TYPES = (*_JID_TYPES, cls)
