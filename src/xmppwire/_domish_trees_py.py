"""twisted ``domish.Element`` trees from ``ElementReceived.build()``, one stanza at a time.

The pure-Python twin of ``_domish_trees_c``; ``xmppwire.integrations.twisted``
drives one ``DomishTarget`` per stream. The trees are the ones twisted's
``ExpatElementStream`` builds: ``uri``, ``name``, ``defaultUri`` (the default
namespace in scope, ``None`` under ``xmlns=''`` as expat reports it, then
the element's own URI), ``attributes`` (namespaced ones keyed ``(uri, name)``
after the plain ones), ``children`` (one text per run), ``localPrefixes`` (the
prefixes the element declares) and ``parent``, set in the order
``Element.__init__`` sets them. twisted itself is never imported here: the
element class is given.
"""

from __future__ import annotations

from typing import Any, Final

__all__ = ["CACHE_LIMIT", "DomishTarget", "cache_sizes", "twisted_attributes"]

# Names seen before, so that each element costs a dict lookup, not a split:
# tag -> (uri, name), and attribute names known to be plain (not namespaced).
# Emptied when full, so that a peer making up names can't grow them for ever.
CACHE_LIMIT: Final = 4096
_qnames: dict[str, tuple[str, str]] = {}
_plain_attributes: set[str] = set()


def _qualified(name: str) -> tuple[str, str]:
    """ElementTree's ``{uri}local`` (or ``local``) as twisted's ``(uri, local)``."""
    if name[0] != "{":
        return "", name
    uri, _, local = name[1:].partition("}")
    return uri, local


def _qname(tag: str) -> tuple[str, str]:
    if len(_qnames) >= CACHE_LIMIT:
        _qnames.clear()
    qname = _qnames[tag] = _qualified(tag)
    return qname


def cache_sizes() -> tuple[int, int]:
    """How many tags and plain attribute names are cached now."""
    return len(_qnames), len(_plain_attributes)


def twisted_attributes(attrib: dict[str, str]) -> dict[Any, str]:
    """ElementTree's attribute names as twisted keys them, in twisted's order.

    Namespaced attributes become ``(uri, name)`` keys, placed after the plain
    ones, as twisted's expat stream leaves them.
    """
    if len(_plain_attributes) >= CACHE_LIMIT:
        _plain_attributes.clear()
    keyed: dict[Any, str] = {}
    for k, v in attrib.items():
        if k[0] != "{":
            keyed[k] = v
            _plain_attributes.add(k)
    for k, v in attrib.items():
        if k[0] == "{":
            keyed[_qualified(k)] = v
    return keyed


class DomishTarget:
    """A TreeBuilder-protocol target making ``element_class`` trees; ``top`` holds the last.

    ``default`` is the default namespace the stream header declares (``""``
    for none): the state twisted's expat stream keeps across a stream.
    """

    __slots__ = ("_current", "_defaults", "_element_class", "_new", "_prefixes", "top")

    def __init__(self, element_class: type, default: str) -> None:
        if element_class.__new__ is not object.__new__:
            raise TypeError("element_class must not define __new__")
        self._element_class = element_class
        self._new = element_class.__new__
        self._defaults: list[str | None] = [default]
        self._prefixes: dict[str, str] | None = None
        self._current: Any = None
        self.top: Any = None

    def start_ns(self, prefix: str, uri: str) -> None:
        if prefix:
            if self._prefixes is None:
                self._prefixes = {prefix: uri}
            else:
                self._prefixes[prefix] = uri
        else:
            # expat reports xmlns='' as None, which twisted pushes as is.
            self._defaults.append(uri or None)

    def end_ns(self, prefix: str) -> None:
        if not prefix:
            self._defaults.pop()

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        qname = _qnames.get(tag)
        if qname is None:
            qname = _qname(tag)
        if attrib and not attrib.keys() <= _plain_attributes:
            attrib = twisted_attributes(attrib)
        prefixes = self._prefixes
        if prefixes is None:
            prefixes = {}
        else:
            self._prefixes = None
        default = self._defaults[-1]
        if default is None and qname[0] not in prefixes.values():
            default = qname[0]
        parent = self._current
        # What domish.Element.__init__ sets, in its order, without its call.
        # The reader hands over a new attribute dict for every element.
        element = self._new(self._element_class)
        element.localPrefixes = prefixes
        element.uri, element.name = qname
        element.defaultUri = default
        element.attributes = attrib
        element.children = []
        element.parent = parent
        if parent is not None:
            parent.children.append(element)
        self._current = element

    def data(self, text: str) -> None:
        # One call per run of text between two tags, so the last child is
        # never text already: twisted's addContent would append it too.
        self._current.children.append(text)

    def end(self, tag: str) -> None:
        element = self._current
        parent = element.parent
        if parent is None:
            self.top = element
        self._current = parent
