"""Faster ``twisted.words.protocols.jabber.jid`` parsing, identical to twisted's own.

twisted prepares JIDs with RFC 3920's stringprep profiles, walking every
character through Python lookup tables (about 60 µs for a cold ``JID(...)``).
xmppwire's own JIDs follow RFC 7622 (PRECIS), whose results differ, so they
are not used here. Instead, the inputs on which twisted's result is plain to
state are recognized by one regular expression, and prepared with
``str.lower()``; every other input goes to twisted's own code, so its results
and its exceptions are twisted's by construction.

The fast set is all-ASCII, and for ASCII twisted's profiles reduce to
(checked character by character against twisted in the tests):

- nodeprep (localpart): no mapping but case folding (B.2, which on ASCII is
  ``str.lower``), NFKC changes nothing; prohibited: controls and space
  (C.1.1, C.2.1) and ``" & ' / : < > @``.
- nameprep (domainpart): labels split at ``.``, case folded; twisted allows
  only letters, digits and ``-`` (STD 3), not first or last in a label; a
  trailing dot is kept. Empty labels are left to twisted (it raises
  ``IndexError`` on them).
- resourceprep: no mapping on ASCII, NFKC changes nothing; prohibited:
  controls (C.2.1); space is allowed.

Empty localparts and resourceparts (``@host``, ``host/``), which twisted turns
into ``None``, are left to twisted too, as is anything that isn't a ``str``.
"""

from __future__ import annotations

import re
from typing import Any, Final

from twisted.words.protocols.jabber import jid as twisted_jid

__all__ = ["install", "installed", "parse", "prep", "uninstall"]

_NODE: Final = r"[!#-%(-.0-9;=?A-~]+"
_LABEL: Final = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_HOST: Final = rf"{_LABEL}(?:\.{_LABEL})*\.?"
_RESOURCE: Final = r"[ -~]+"

# twisted's split: the localpart ends at the first "@" unless a "/" comes
# first; the resourcepart is everything after the first "/".
_JID: Final = re.compile(rf"(?:({_NODE})@)?({_HOST})(?:/({_RESOURCE}))?")
_NODE_RE: Final = re.compile(_NODE)
_HOST_RE: Final = re.compile(_HOST)
_RESOURCE_RE: Final = re.compile(_RESOURCE)

# twisted's own functions, whatever install() does later.
_TWISTED_PARSE: Final = twisted_jid.parse
_TWISTED_PREP: Final = twisted_jid.prep

_installed = False


def parse(jidstring: str) -> tuple[str | None, str, str | None]:
    """``twisted.words.protocols.jabber.jid.parse``, faster on plain ASCII JIDs."""
    found = _JID.fullmatch(jidstring) if type(jidstring) is str else None
    if found is None:
        return _TWISTED_PARSE(jidstring)
    user, host, resource = found.groups()
    return (None if user is None else user.lower()), host.lower(), resource


def prep(user: Any, host: Any, resource: Any) -> tuple[str | None, str, str | None]:
    """``twisted.words.protocols.jabber.jid.prep``, faster on plain ASCII parts."""
    if (
        type(host) is str
        and _HOST_RE.fullmatch(host)
        and (user is None or (type(user) is str and _NODE_RE.fullmatch(user)))
        and (resource is None or (type(resource) is str and _RESOURCE_RE.fullmatch(resource)))
    ):
        return (None if user is None else user.lower()), host.lower(), resource
    return _TWISTED_PREP(user, host, resource)


def install() -> None:
    """Make twisted's ``JID(...)``, ``internJID()``, ``jid.parse`` and ``jid.prep`` use these."""
    global _installed
    twisted_jid.parse = parse
    twisted_jid.prep = prep
    _installed = True


def uninstall() -> None:
    """Put twisted's own ``parse`` and ``prep`` back."""
    global _installed
    twisted_jid.parse = _TWISTED_PARSE
    twisted_jid.prep = _TWISTED_PREP
    _installed = False


def installed() -> bool:
    return _installed
