"""Builds nbxmpp ``Node`` trees from ``ElementReceived.build()``, as ``NodeBuilder`` would.

The pure-Python twin of ``_nbxmpp_nodes_c``; ``xmppwire.integrations.nbxmpp``
drives one ``NodeTarget`` per top-level element. nbxmpp is never imported
here: the ``Node`` class is given.

``NodeBuilder`` runs expat without namespace processing, so a ``Node`` keeps
the qualified attribute names (``xml:lang``, ``xmlns:foo``) and resolves its
own prefix through its ancestors, caching the answer in each ``nsp_cache`` on
the way. The builder receives resolved ``{uri}local`` names instead and maps
them back through the declarations in scope.
"""

from __future__ import annotations

from typing import Any, Final

__all__ = ["NodeTarget"]

XML_ATTR: Final = "{http://www.w3.org/XML/1998/namespace}"
# What nbxmpp names the namespace of a prefix nobody declared.
UNDECLARED: Final = "http://www.gajim.org/xmlns/undeclared"

_new_object: Final = object.__new__
# "{uri}local" -> (uri, local), or (None, local) for no namespace: the same
# few dozen tags come again and again.
_SPLIT_TAGS: dict[str, tuple[str | None, str]] = {}
_MAX_SPLIT_TAGS: Final = 4096


def _split_tag(tag: str) -> tuple[str | None, str]:
    if tag[0] == "{":
        uri, _, local = tag[1:].partition("}")
        split: tuple[str | None, str] = (uri, local)
    else:
        split = (None, tag)
    if len(_SPLIT_TAGS) >= _MAX_SPLIT_TAGS:
        _SPLIT_TAGS.clear()
    _SPLIT_TAGS[tag] = split
    return split


class NodeTarget:
    """One top-level element's ``Node`` tree, left in ``finished`` once its end tag is seen.

    ``node_class`` is ``nbxmpp.simplexml.Node``; ``header_nsp`` maps the
    prefixes the stream header declares ("" for the default) to their URIs.
    """

    __slots__ = ("_bound", "_declared", "_header_nsp", "_node", "_node_class", "_text", "finished")

    def __init__(self, node_class: type, header_nsp: dict[str, str]) -> None:
        self._node_class = node_class
        # prefix -> uri for the stream header's declarations ("" for the default).
        self._header_nsp = header_nsp
        # The namespaces in scope, innermost last, as (prefix, uri) pairs.
        self._bound: list[tuple[str, str]] = [(p, u) for p, u in header_nsp.items()]
        self._declared: dict[str, str] | None = None
        self._node: Any = None
        self._text: str | None = None
        self.finished: Any = None

    def start_ns(self, prefix: str, uri: str) -> None:
        declared = self._declared
        if declared is None:
            declared = self._declared = {}
        declared[prefix] = uri

    def _prefix_of(self, uri: str) -> str:
        bound = self._bound
        for i in range(len(bound) - 1, -1, -1):
            if bound[i][1] == uri:
                return bound[i][0]
        return ""

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        parent = self._node
        if parent is not None:
            # A text run ends where a child starts; without one, NodeBuilder
            # marks the child's place in the parent's data with "".
            text = self._text
            if text is None:
                parent.data.append("")
            else:
                parent.data.append(text)
                self._text = None
        declared = self._declared
        self._declared = None
        attrs: dict[str, str] = {}
        nsd: dict[str, str] = {}
        if declared is not None:
            for prefix, uri in declared.items():
                attrs["xmlns:" + prefix if prefix else "xmlns"] = uri
                nsd[prefix] = uri
                self._bound.append((prefix, uri))
        for key, value in attrib.items():
            if key[0] == "{":
                if key.startswith(XML_ATTR):
                    key = "xml:" + key[len(XML_ATTR) :]
                else:
                    uri, _, local = key[1:].partition("}")
                    prefix = self._prefix_of(uri)
                    key = f"{prefix}:{local}" if prefix else local
            attrs[key] = value
        split = _SPLIT_TAGS.get(tag)
        if split is None:
            split = _split_tag(tag)
        namespace, name = split
        if namespace is None:
            # No namespace: xmlns="" in scope, or none declared at all, which
            # NodeBuilder reports as its "undeclared" namespace.
            prefix = ""
            namespace = "" if ("", "") in self._bound else UNDECLARED
        elif nsd.get("") == namespace:
            prefix = ""
        else:
            prefix = self._prefix_of(namespace)
        node = _new_object(self._node_class)
        if parent is None:
            # A top-level element looks its prefix up in the header's declarations.
            node.__dict__ = {
                "name": name,
                "namespace": namespace,
                "attrs": attrs,
                "data": [],
                "kids": [],
                "parent": None,
                "nsd": nsd,
                "nsp_cache": self._header_nsp.copy(),
            }
        elif prefix in nsd:
            node.__dict__ = {
                "name": name,
                "namespace": namespace,
                "attrs": attrs,
                "data": [],
                "kids": [],
                "parent": parent,
                "nsd": nsd,
                "nsp_cache": {},
            }
            parent.kids.append(node)
        else:
            node.__dict__ = {
                "name": name,
                "namespace": namespace,
                "attrs": attrs,
                "data": [],
                "kids": [],
                "parent": parent,
                "nsd": nsd,
                "nsp_cache": {prefix: namespace},
            }
            # Node.lookup_nsp() asked the ancestors and cached the answer in
            # each that did not declare nor know the prefix yet.
            ancestor = parent
            while (
                ancestor.parent is not None
                and prefix not in ancestor.nsd
                and prefix not in ancestor.nsp_cache
            ):
                ancestor.nsp_cache[prefix] = namespace
                ancestor = ancestor.parent
            parent.kids.append(node)
        self._node = node

    def data(self, text: str) -> None:
        if self._text is None:
            self._text = text
        else:
            self._text += text

    def end(self, tag: str) -> None:
        node = self._node
        assert node is not None
        if self._text is not None:
            node.data.append(self._text)
            self._text = None
        if node.nsd:
            del self._bound[-len(node.nsd) :]
        parent = node.parent
        self._node = parent
        if parent is None:
            self.finished = node
