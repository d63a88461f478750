"""RFC 7622 JIDs: ``JID``, the parse cache and XEP-0106 escaping.

``JID`` is the compiled twin's type when the compiled twins are in use and the
pure-Python one otherwise; both parse alike, and JIDs of either kind compare
and hash alike.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from types import ModuleType
from typing import TYPE_CHECKING

from . import _jid_rules
from ._impl import active
from .errors import InvalidJID
from .xep0106 import escape_localpart, unescape_localpart

__all__ = [
    "JID",
    "MAX_PART_OCTETS",
    "InvalidJID",
    "cache_size",
    "clear_cache",
    "escape_localpart",
    "set_cache_size",
    "split",
    "unescape_localpart",
]

MAX_PART_OCTETS = _jid_rules.MAX_PART_OCTETS

if TYPE_CHECKING:
    from ._jid_py import JID
else:
    JID = active().jid.JID

split = _jid_rules.split


def _loaded() -> Iterator[ModuleType]:
    # Both twins may be in use (tests, benchmarks); neither is imported here.
    for name in ("xmppwire._jid_py", "xmppwire._jid_c"):
        module = sys.modules.get(name)
        if module is not None:
            yield module


def set_cache_size(maxsize: int) -> None:
    """Keep at most ``maxsize`` parsed JIDs per implementation; 0 turns caching off.

    Each cache is bounded; see docs/jid.md for how it chooses what to keep.
    """
    for module in _loaded():
        module.set_cache_size(maxsize)


def cache_size() -> int:
    """How many parsed JIDs the active implementation may cache."""
    return active().jid.cache_size()


def clear_cache() -> None:
    """Forget every cached JID, and the domainparts the complete path remembers."""
    for module in _loaded():
        module.clear_cache()
