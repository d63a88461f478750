# cython: language_level=3, boundscheck=False, wraparound=False
"""Compiled twin of ``_nbxmpp_nodes_py``: nbxmpp ``Node`` trees from ``ElementReceived.build()``.

Same behaviour, same names. The open elements' ``__dict__`` dicts are kept
on a stack, so that text, children and prefix caches go straight into them
without attribute lookups on the ``Node`` objects.
"""

cimport cython
from cpython.object cimport PyObject, PyTypeObject

cdef extern from "Python.h":
    # object.__new__(cls) and obj.__dict__ = fields, without the Python-level
    # argument parsing and descriptor lookups: a Node takes no __new__ of its own.
    object PyType_GenericNew(PyTypeObject* cls, PyObject* args, PyObject* kwargs)
    int PyObject_GenericSetDict(object obj, object value, void* context) except -1

__all__ = ["NodeTarget"]

XML_ATTR = "{http://www.w3.org/XML/1998/namespace}"
# What nbxmpp names the namespace of a prefix nobody declared.
UNDECLARED = "http://www.gajim.org/xmlns/undeclared"

cdef str _XML_ATTR = XML_ATTR
cdef Py_ssize_t _XML_ATTR_LENGTH = len(XML_ATTR)
cdef str _UNDECLARED = UNDECLARED
cdef tuple _NO_NAMESPACE = ("", "")

# "{uri}local" -> (uri, local), or (None, local) for no namespace: the same
# few dozen tags come again and again.
cdef dict _split_tags = {}
cdef Py_ssize_t _MAX_SPLIT_TAGS = 4096


cdef tuple _split_tag(str tag):
    cdef object found = _split_tags.get(tag)
    if found is not None:
        return <tuple>found
    cdef tuple split
    if tag.startswith("{"):
        uri, _, local = tag[1:].partition("}")
        split = (uri, local)
    else:
        split = (None, tag)
    if len(_split_tags) >= _MAX_SPLIT_TAGS:
        _split_tags.clear()
    _split_tags[tag] = split
    return split


@cython.final
cdef class NodeTarget:
    """One top-level element's ``Node`` tree, left in ``finished`` once its end tag is seen.

    ``node_class`` is ``nbxmpp.simplexml.Node``; ``header_nsp`` maps the
    prefixes the stream header declares ("" for the default) to their URIs.
    """

    cdef type _node_class
    cdef dict _header_nsp
    # The namespaces in scope, innermost last, as (prefix, uri) pairs.
    cdef list _bound
    cdef dict _declared
    # The __dict__ of each open element, outermost first, and the open element.
    cdef list _open
    cdef object _node
    cdef object _text
    cdef public object finished

    def __init__(self, type node_class, dict header_nsp):
        if node_class.__new__ is not object.__new__:
            raise TypeError("node_class must not define __new__")
        self._node_class = node_class
        self._header_nsp = header_nsp
        self._bound = list(header_nsp.items())
        self._declared = None
        self._open = []
        self._node = None
        self._text = None
        self.finished = None

    def start_ns(self, str prefix, str uri):
        if self._declared is None:
            self._declared = {}
        self._declared[prefix] = uri

    cdef str _prefix_of(self, str uri):
        cdef list bound = self._bound
        cdef Py_ssize_t i
        cdef tuple pair
        for i in range(len(bound) - 1, -1, -1):
            pair = <tuple>bound[i]
            if <str>pair[1] == uri:
                return <str>pair[0]
        return ""

    def start(self, str tag, dict attrib):
        cdef object parent = self._node
        cdef dict parent_fields = None
        cdef dict attrs = {}
        cdef dict nsd = {}
        cdef dict fields
        cdef dict declared = self._declared
        cdef dict ancestor
        cdef tuple split
        cdef str key, prefix, uri, local
        cdef object namespace, value
        cdef Py_ssize_t depth, i
        if parent is not None:
            parent_fields = <dict>self._open[len(self._open) - 1]
            # A text run ends where a child starts; without one, NodeBuilder
            # marks the child's place in the parent's data with "".
            if self._text is None:
                (<list>parent_fields["data"]).append("")
            else:
                (<list>parent_fields["data"]).append(self._text)
                self._text = None
        if declared is not None:
            self._declared = None
            for prefix, uri in declared.items():
                attrs["xmlns:" + prefix if prefix else "xmlns"] = uri
                nsd[prefix] = uri
                self._bound.append((prefix, uri))
        for key, value in attrib.items():
            if key.startswith("{"):
                if key.startswith(_XML_ATTR):
                    key = "xml:" + key[_XML_ATTR_LENGTH:]
                else:
                    uri, _, local = key[1:].partition("}")
                    prefix = self._prefix_of(uri)
                    key = prefix + ":" + local if prefix else local
            attrs[key] = value
        split = _split_tag(tag)
        namespace = split[0]
        if namespace is None:
            # No namespace: xmlns="" in scope, or none declared at all, which
            # NodeBuilder reports as its "undeclared" namespace.
            prefix = ""
            namespace = "" if _NO_NAMESPACE in self._bound else _UNDECLARED
        elif nsd.get("") == namespace:
            prefix = ""
        else:
            prefix = self._prefix_of(<str>namespace)
        node = PyType_GenericNew(<PyTypeObject*>self._node_class, NULL, NULL)
        if parent is None:
            # A top-level element looks its prefix up in the header's declarations.
            fields = {
                "name": split[1],
                "namespace": namespace,
                "attrs": attrs,
                "data": [],
                "kids": [],
                "parent": None,
                "nsd": nsd,
                "nsp_cache": self._header_nsp.copy(),
            }
        elif prefix in nsd:
            fields = {
                "name": split[1],
                "namespace": namespace,
                "attrs": attrs,
                "data": [],
                "kids": [],
                "parent": parent,
                "nsd": nsd,
                "nsp_cache": {},
            }
        else:
            fields = {
                "name": split[1],
                "namespace": namespace,
                "attrs": attrs,
                "data": [],
                "kids": [],
                "parent": parent,
                "nsd": nsd,
                "nsp_cache": {prefix: namespace},
            }
            # Node.lookup_nsp() asked the ancestors and cached the answer in
            # each that did not declare nor know the prefix yet; the
            # top-level element, which has no parent, caches nothing.
            depth = len(self._open)
            for i in range(depth - 1, 0, -1):
                ancestor = <dict>self._open[i]
                if prefix in <dict>ancestor["nsd"] or prefix in <dict>ancestor["nsp_cache"]:
                    break
                (<dict>ancestor["nsp_cache"])[prefix] = namespace
        PyObject_GenericSetDict(node, fields, NULL)
        if parent_fields is not None:
            (<list>parent_fields["kids"]).append(node)
        self._open.append(fields)
        self._node = node

    def data(self, str text):
        if self._text is None:
            self._text = text
        else:
            self._text = <str>self._text + text

    def end(self, tag):
        cdef dict fields = <dict>self._open.pop()
        cdef dict nsd = <dict>fields["nsd"]
        cdef Py_ssize_t declared = len(nsd)
        if self._text is not None:
            (<list>fields["data"]).append(self._text)
            self._text = None
        if declared:
            del self._bound[len(self._bound) - declared:]
        node = self._node
        self._node = fields["parent"]
        if self._node is None:
            self.finished = node
