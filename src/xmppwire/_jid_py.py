"""Pure-Python twin of ``_jid_c``: the JID type, its ASCII fast path and its cache.

Nearly every JID on the wire is ASCII. For those, RFC 7622 comes down to a
split, a few character-class checks and lowercasing (see docs/jid.md), done
here with compiled regular expressions (shared with the complete path, as
shortcuts for ASCII parts); anything the fast path does not
accept, including every invalid input, goes to the complete PRECIS/IDNA path
in ``_jid_rules`` so that both paths give the same answers.
"""

from __future__ import annotations

import operator
import re
import sys
import threading
from typing import Any, Final

from . import _jid_rules
from ._jid_pickle import restore

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

_MAX_OCTETS: Final = _jid_rules.MAX_PART_OCTETS


# The three ASCII rules of _jid_rules in one expression over the whole JID.
# Neither a localpart nor a domainpart can hold "@" or "/", so the groups
# fall where RFC 7622's separators do.
_ASCII_JID_RE: Final = re.compile(
    rf"(?:({_jid_rules.ASCII_LOCALPART})@)?({_jid_rules.LDH_DOMAINPART})\.?"
    rf"(?:/({_jid_rules.ASCII_RESOURCEPART}))?",
    re.ASCII,
)


def parse_ascii(jid: str) -> tuple[str | None, str, str | None] | None:
    """The enforced parts of an all-ASCII valid JID, or ``None`` for the complete path.

    ``None`` never means invalid, only "not decided here".
    """
    if not jid.isascii():
        return None
    match = _ASCII_JID_RE.fullmatch(jid)
    if match is None:
        return None
    local, domain, resource = match.groups()
    if len(domain) > _MAX_OCTETS:
        return None
    return None if local is None else local.lower(), domain.lower(), resource


class _Cache:
    """A bounded map from input strings to parsed JIDs, for the complete path only.

    The ASCII fast path costs about what a lookup does, so its results are not
    kept. Two generations of dicts: new entries go to the young one; when it
    holds half the size, the old one is emptied and becomes the young one. A
    hit in the old generation is copied to the young one, so what is in use
    survives. Every step is O(1) and the total stays within the size. Lookups
    take no lock (a dict lookup is atomic, with or without the GIL); only the
    rotation does.
    """

    __slots__ = ("half", "lock", "maxsize", "old", "young")

    def __init__(self, maxsize: int) -> None:
        self.young: dict[str, JID] = {}
        self.old: dict[str, JID] = {}
        self.lock = threading.Lock()
        self.maxsize = maxsize
        self.half = max(maxsize // 2, 1)

    def get(self, key: str) -> JID | None:
        found = self.young.get(key)
        if found is None and self.maxsize > 0:
            found = self.old.get(key)
            if found is not None:
                self.put(key, found)
        return found

    def put(self, key: str, value: JID) -> None:
        if self.maxsize <= 0:
            return
        if len(self.young) >= self.half:
            with self.lock:
                if len(self.young) >= self.half:
                    self.old, self.young = self.young, {}
        self.young[key] = value

    def resize(self, maxsize: int) -> None:
        if maxsize < 0:
            raise ValueError("the cache size can't be negative")
        with self.lock:
            self.maxsize = maxsize
            self.half = max(maxsize // 2, 1)
            self.young, self.old = {}, {}

    def keys(self) -> list[str]:
        with self.lock:
            return [*self.old, *self.young]

    def clear(self) -> None:
        with self.lock:
            self.young, self.old = {}, {}


_CACHE: Final = _Cache(DEFAULT_CACHE_SIZE)


def set_cache_size(maxsize: int) -> None:
    """Keep at most ``maxsize`` parsed JIDs (0 turns the cache off)."""
    # Refused as the compiled twin refuses it, which takes a C ssize_t.
    maxsize = operator.index(maxsize)
    if not -sys.maxsize - 1 <= maxsize <= sys.maxsize:
        raise OverflowError("Python int too large to convert to C ssize_t")
    _CACHE.resize(maxsize)


def cache_size() -> int:
    """How many parsed JIDs the cache may hold."""
    return _CACHE.maxsize


def cached_jids() -> list[str]:
    """The input strings whose parsed JIDs are cached, oldest first."""
    return _CACHE.keys()


def clear_cache() -> None:
    """Forget every cached JID, and the domainparts the complete path remembers."""
    _CACHE.clear()
    _jid_rules.clear_memo()


class JID:
    """An XMPP address, enforced per RFC 7622: ``localpart@domainpart/resourcepart``.

    Immutable and hashable; two JIDs are equal when their enforced parts are.
    ``JID(s)`` parses a string and raises :class:`xmppwire.InvalidJID` (a
    ``ValueError``) naming the part and the rule it broke.
    """

    __slots__ = ("__weakref__", "_domainpart", "_localpart", "_resourcepart", "_str")

    _localpart: str | None
    _domainpart: str
    _resourcepart: str | None
    _str: str | None

    def __new__(cls, jid: str | JID) -> JID:
        if type(jid) is str:
            parts = parse_ascii(jid)
            if parts is not None:
                return cls._make(*parts)
            cached = _CACHE.get(jid)
            if cached is None:
                cached = cls._make(*_jid_rules.enforce(jid))
                _CACHE.put(jid, cached)
            return cached
        if type(jid) is cls:
            return jid
        if isinstance(jid, _JID_TYPES):
            return cls._make(jid.localpart, jid.domainpart, jid.resourcepart)
        if isinstance(jid, str):
            return cls(str(jid))
        raise TypeError(f"a JID is parsed from str, not {type(jid).__name__}")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # The compiled twin can't be subclassed either; JIDs are values.
        raise TypeError("JID can't be subclassed")

    @classmethod
    def _make(cls, local: str | None, domain: str, resource: str | None) -> JID:
        self = object.__new__(cls)
        # Through the slots' own setters: assignment is refused (JIDs are values).
        _set_localpart(self, local)
        _set_domainpart(self, domain)
        _set_resourcepart(self, resource)
        _set_str(self, None)
        return self

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"JID is immutable: {name!r} can't be set")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"JID is immutable: {name!r} can't be deleted")

    @classmethod
    def from_parts(
        cls, localpart: str | None, domainpart: str, resourcepart: str | None = None
    ) -> JID:
        """Build a JID from its parts, enforcing each; ``None`` leaves a part out."""
        return cls._make(*_jid_rules.enforce_parts(localpart, domainpart, resourcepart))

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
        if type(resourcepart) is not str:
            raise TypeError(f"a resourcepart is a str, not {type(resourcepart).__name__}")
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
            _set_str(self, text)
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
        # The canonical string and the parts determine each other, and a str
        # keeps its hash: both implementations hash JIDs this way.
        return hash(str(self))

    def __copy__(self) -> JID:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> JID:
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (restore, (self._localpart, self._domainpart, self._resourcepart))


_set_localpart = JID.__dict__["_localpart"].__set__
_set_domainpart = JID.__dict__["_domainpart"].__set__
_set_resourcepart = JID.__dict__["_resourcepart"].__set__
_set_str = JID.__dict__["_str"].__set__

_JID_TYPES: tuple[type, ...] = (JID,)


def register_jid_type(cls: type) -> None:
    """Let ``JID(other)`` copy instances of the other implementation's JID."""
    global _JID_TYPES
    if cls not in _JID_TYPES:
        _JID_TYPES = (*_JID_TYPES, cls)
