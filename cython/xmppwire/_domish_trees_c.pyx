# cython: language_level=3, boundscheck=False, wraparound=False
"""Compiled twin of ``_domish_trees_py``: twisted ``domish.Element`` trees from ``build()``.

Same behaviour, same names. Each element is made as ``Element.__init__``
would leave it, its ``__dict__`` filled in one go in ``__init__``'s order;
the children lists of the open elements are kept on a stack, so that text
and children go straight into them.
"""

cimport cython
from cpython.object cimport PyObject, PyTypeObject

cdef extern from "Python.h":
    # object.__new__(cls) and obj.__dict__ = fields, without the Python-level
    # argument parsing and descriptor lookups: domish.Element has no __new__.
    object PyType_GenericNew(PyTypeObject* cls, PyObject* args, PyObject* kwargs)
    int PyObject_GenericSetDict(object obj, object value, void* context) except -1

__all__ = ["CACHE_LIMIT", "DomishTarget", "cache_sizes", "twisted_attributes"]

CACHE_LIMIT = 4096
cdef Py_ssize_t _CACHE_LIMIT = CACHE_LIMIT
# tag -> (uri, name), and attribute names known to be plain (not namespaced);
# emptied when full, so that a peer making up names can't grow them for ever.
cdef dict _qnames = {}
cdef set _plain_attributes = set()


cdef tuple _qualified(str name):
    if not name.startswith("{"):
        return ("", name)
    uri, _, local = name[1:].partition("}")
    return (uri, local)


cdef tuple _qname(str tag):
    cdef object found = _qnames.get(tag)
    if found is not None:
        return <tuple>found
    if len(_qnames) >= _CACHE_LIMIT:
        _qnames.clear()
    cdef tuple qname = _qualified(tag)
    _qnames[tag] = qname
    return qname


def cache_sizes():
    """How many tags and plain attribute names are cached now."""
    return len(_qnames), len(_plain_attributes)


def twisted_attributes(dict attrib):
    """ElementTree's attribute names as twisted keys them, in twisted's order.

    Namespaced attributes become ``(uri, name)`` keys, placed after the plain
    ones, as twisted's expat stream leaves them.
    """
    cdef dict keyed = {}
    cdef str key
    if len(_plain_attributes) >= _CACHE_LIMIT:
        _plain_attributes.clear()
    for key, value in attrib.items():
        if not key.startswith("{"):
            keyed[key] = value
            _plain_attributes.add(key)
    for key, value in attrib.items():
        if key.startswith("{"):
            keyed[_qualified(key)] = value
    return keyed


cdef inline bint _all_plain(dict attrib):
    for key in attrib:
        if key not in _plain_attributes:
            return False
    return True


@cython.final
cdef class DomishTarget:
    """A TreeBuilder-protocol target making ``element_class`` trees; ``top`` holds the last.

    ``default`` is the default namespace the stream header declares (``""``
    for none): the state twisted's expat stream keeps across a stream.
    """

    cdef type _element_class
    cdef list _defaults
    cdef dict _prefixes
    # The open elements, outermost first, and their children lists.
    cdef list _elements
    cdef list _children
    cdef public object top

    def __init__(self, type element_class, str default):
        if element_class.__new__ is not object.__new__:
            raise TypeError("element_class must not define __new__")
        self._element_class = element_class
        self._defaults = [default]
        self._prefixes = None
        self._elements = []
        self._children = []
        self.top = None

    def start_ns(self, str prefix, str uri):
        if prefix:
            if self._prefixes is None:
                self._prefixes = {prefix: uri}
            else:
                self._prefixes[prefix] = uri
        else:
            # expat reports xmlns='' as None, which twisted pushes as is.
            self._defaults.append(uri or None)

    def end_ns(self, str prefix):
        if not prefix:
            self._defaults.pop()

    def start(self, str tag, dict attrib):
        cdef tuple qname = _qname(tag)
        cdef dict prefixes = self._prefixes
        cdef object default
        cdef object parent = None
        cdef list children = []
        cdef Py_ssize_t depth = len(self._elements)
        if attrib and not _all_plain(attrib):
            attrib = twisted_attributes(attrib)
        if prefixes is None:
            prefixes = {}
        else:
            self._prefixes = None
        default = self._defaults[len(self._defaults) - 1]
        if default is None and qname[0] not in prefixes.values():
            default = qname[0]
        if depth:
            parent = self._elements[depth - 1]
        element = PyType_GenericNew(<PyTypeObject*>self._element_class, NULL, NULL)
        # What domish.Element.__init__ sets, in its order. The reader hands
        # over a new attribute dict for every element.
        PyObject_GenericSetDict(
            element,
            {
                "localPrefixes": prefixes,
                "uri": qname[0],
                "name": qname[1],
                "defaultUri": default,
                "attributes": attrib,
                "children": children,
                "parent": parent,
            },
            NULL,
        )
        if depth:
            (<list>self._children[depth - 1]).append(element)
        self._elements.append(element)
        self._children.append(children)

    def data(self, str text):
        # One call per run of text between two tags, so the last child is
        # never text already: twisted's addContent would append it too.
        (<list>self._children[len(self._children) - 1]).append(text)

    def end(self, tag):
        element = self._elements.pop()
        self._children.pop()
        if not self._elements:
            self.top = element
