# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False
"""Compiled twin of the stanza reader: attributes, trees and tree targets.

Its input is the ``raw`` of an ``ElementReceived``: one element the tokenizer
has already checked byte by byte, so the walk here trusts it (names, quotes,
references and nesting are known to be right) and only finds token
boundaries. Nothing is re-serialised and expat is not involved: tags,
attributes and text go from the bytes straight to the target.
"""

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.object cimport PyObject
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.stdint cimport uint32_t
from libc.string cimport memchr, memcmp, memcpy

from xml.etree.ElementTree import TreeBuilder

from xmppwire.events import ElementReceived, StreamHeader

__all__ = ["attributes", "build", "element", "read_attributes"]

cdef Py_ssize_t RAW_SLOT = xw_slot_offset(ElementReceived.__dict__["raw"])
cdef Py_ssize_t HEADER_SLOT = xw_slot_offset(ElementReceived.__dict__["header"])
cdef Py_ssize_t ATTRS_SLOT = xw_slot_offset(ElementReceived.__dict__["_attrs"])
cdef Py_ssize_t NAMESPACES_SLOT = xw_slot_offset(StreamHeader.__dict__["namespaces"])

cdef str XML_NS = "http://www.w3.org/XML/1998/namespace"

cdef extern from *:
    """
    /* Byte classes of the walk: 1 = whitespace, 2 = ends a name in a tag. */
    static const unsigned char xw_tree_cc[256] = {
        ['\\t'] = 3, ['\\n'] = 3, ['\\r'] = 3, [' '] = 3,
        ['/'] = 2, ['>'] = 2, ['='] = 2,
    };

    /* Strings seen before, found by their UTF-8 bytes (and, for tags, the
       namespace object they were made with): stanzas repeat a few dozen names
       and namespaces, and a lookup costs less than decoding and joining.
       A fixed table: a new string replaces the old one in its slot, so the
       peer, who chooses the names, can't make it grow. Shared state, so
       only where the GIL guards it. */
    /* 1 when every byte is ASCII, none below 0x20 and none '&': text that
       needs no decoding at all. Eight bytes at a time, within the span. */
    static CYTHON_INLINE int xw_plain_ascii(const unsigned char *p, Py_ssize_t n) {
        const unsigned long long ones = 0x0101010101010101ULL;
        const unsigned long long highs = 0x8080808080808080ULL;
        unsigned long long w, a;
        Py_ssize_t i = 0;
        for (; i + 8 <= n; i += 8) {
            memcpy(&w, p + i, 8);
            a = w ^ (ones * '&');
            if ((w | ((w - ones * 0x20) & ~w) | ((a - ones) & ~a)) & highs) return 0;
        }
        for (; i < n; i++)
            if (p[i] >= 0x80 || p[i] < 0x20 || p[i] == '&') return 0;
        return 1;
    }

    #define XW_SLOTS 512
    #ifdef Py_GIL_DISABLED
    #define XW_CACHED 0
    #else
    #define XW_CACHED 1
    #endif
    typedef struct { PyObject *text; PyObject *scope; Py_ssize_t n; char key[48]; } xw_slot;
    static xw_slot xw_strings[XW_SLOTS];

    /* The length and the first and last eight bytes: constant time, where a
       byte-at-a-time hash is a chain of dependent multiplies as long as the
       string (namespaces run to 40 bytes). A collision costs only a miss. */
    static CYTHON_INLINE size_t xw_hash(const char *p, Py_ssize_t n, size_t seed) {
        unsigned long long head = 0, tail = 0, h;
        if (n >= 8) {
            memcpy(&head, p, 8);
            memcpy(&tail, p + n - 8, 8);
        } else {
            memcpy(&head, p, (size_t)n);
        }
        h = (head * 0x9E3779B97F4A7C15ULL) ^ (tail * 0xC2B2AE3D27D4EB4FULL)
            ^ ((unsigned long long)n << 56) ^ (unsigned long long)seed;
        return (size_t)(h ^ (h >> 29));
    }

    /* A borrowed reference to the cached string for (scope, bytes), or NULL. */
    static CYTHON_INLINE PyObject *xw_cached(PyObject *scope, const char *p, Py_ssize_t n,
                                              size_t *slot) {
        xw_slot *s;
        if (!XW_CACHED || n > 48) { *slot = (size_t)-1; return NULL; }
        *slot = xw_hash(p, n, (size_t)scope) & (XW_SLOTS - 1);
        s = &xw_strings[*slot];
        if (s->text && s->scope == scope && s->n == n && memcmp(s->key, p, n) == 0)
            return s->text;
        return NULL;
    }

    /* The slot holds both strings: a scope freed and another made at its
       address must not find the old entry. */
    static CYTHON_INLINE void xw_remember(size_t slot, PyObject *scope, const char *p,
                                          Py_ssize_t n, PyObject *text) {
        xw_slot *s;
        PyObject *old_text, *old_scope;
        if (slot == (size_t)-1) return;
        s = &xw_strings[slot];
        old_text = s->text;
        old_scope = s->scope;
        Py_INCREF(text);
        Py_XINCREF(scope);
        s->text = text;
        s->scope = scope;
        s->n = n;
        memcpy(s->key, p, n);
        Py_XDECREF(old_text);
        Py_XDECREF(old_scope);
    }
    """
    const unsigned char xw_tree_cc[256]
    bint xw_plain_ascii(const unsigned char* p, Py_ssize_t n) noexcept


cdef extern from *:
    """
    /* Where a slots class keeps one of its fields, and a borrowed read and
       an owned write of it: ElementReceived is a frozen dataclass, and its
       decoded attributes are stored once, on first use. */
    #include "structmember.h"
    static Py_ssize_t xw_slot_offset(PyObject *descr) {
        return ((PyMemberDescrObject *)descr)->d_member->offset;
    }
    #define xw_slot_get(obj, off) (*(PyObject **)((char *)(obj) + (off)))
    static CYTHON_INLINE void xw_slot_set(PyObject *obj, Py_ssize_t off, PyObject *value) {
        PyObject *old = xw_slot_get(obj, off);
        Py_INCREF(value);
        xw_slot_get(obj, off) = value;
        Py_XDECREF(old);
    }
    """
    Py_ssize_t xw_slot_offset(object descr) except -1
    PyObject* xw_slot_get(object obj, Py_ssize_t off) noexcept
    void xw_slot_set(object obj, Py_ssize_t off, object value) noexcept
    object PyUnicode_New(Py_ssize_t size, Py_UCS4 maxchar)
    object PyObject_VectorcallMethod(object name, PyObject** args, size_t nargsf,
                                     PyObject* kwnames)
    size_t PY_VECTORCALL_ARGUMENTS_OFFSET
    void* PyUnicode_DATA(object text) noexcept
    PyObject* xw_cached(PyObject* scope, const char* p, Py_ssize_t n, size_t* slot) noexcept
    void xw_remember(size_t slot, PyObject* scope, const char* p, Py_ssize_t n,
                     PyObject* text) noexcept

# One-entry cache of the scope a stream header gives: a stream's stanzas all
# come with the same header tuple, so its dict is built once per stream.
cdef object _scope_key = None
cdef object _scope = None


cdef inline bint _is_ws(unsigned char c) noexcept:
    return xw_tree_cc[c] & 1


cdef inline bint _ends_name(unsigned char c) noexcept:
    return xw_tree_cc[c] != 0


cdef inline str _name(const unsigned char* p, Py_ssize_t n):
    """A name (or a namespace) by its bytes, from the cache when seen before."""
    cdef size_t slot
    cdef PyObject* found = xw_cached(NULL, <const char*>p, n, &slot)
    if found is not NULL:
        return <str>found
    name = PyUnicode_DecodeUTF8(<char*>p, n, NULL)
    xw_remember(slot, NULL, <const char*>p, n, <PyObject*>name)
    return name


cdef inline int _utf8(unsigned char* out, uint32_t cp) noexcept:
    if cp < 0x80:
        out[0] = <unsigned char>cp
        return 1
    if cp < 0x800:
        out[0] = <unsigned char>(0xC0 | (cp >> 6))
        out[1] = <unsigned char>(0x80 | (cp & 0x3F))
        return 2
    if cp < 0x10000:
        out[0] = <unsigned char>(0xE0 | (cp >> 12))
        out[1] = <unsigned char>(0x80 | ((cp >> 6) & 0x3F))
        out[2] = <unsigned char>(0x80 | (cp & 0x3F))
        return 3
    out[0] = <unsigned char>(0xF0 | (cp >> 18))
    out[1] = <unsigned char>(0x80 | ((cp >> 12) & 0x3F))
    out[2] = <unsigned char>(0x80 | ((cp >> 6) & 0x3F))
    out[3] = <unsigned char>(0x80 | (cp & 0x3F))
    return 4


cdef Py_ssize_t _decode_into(const unsigned char* p, Py_ssize_t n, unsigned char* out,
                             bint attribute, bint cdata) noexcept:
    """Copy character data to ``out`` as XML delivers it; returns the length.

    Line ends become LF (XML 1.0 §2.11); in attribute values every whitespace
    character then becomes a space (§3.3.3), and references are decoded
    (except inside CDATA). Never longer than the input.
    """
    cdef Py_ssize_t i = 0, o = 0, j
    cdef unsigned char c
    cdef uint32_t cp
    while i < n:
        c = p[i]
        if c == 13:
            out[o] = 32 if attribute else 10
            o += 1
            i += 2 if i + 1 < n and p[i + 1] == 10 else 1
        elif attribute and (c == 10 or c == 9):
            out[o] = 32
            o += 1
            i += 1
        elif c == 38 and not cdata:
            j = i + 1
            if p[j] == 35:
                cp = 0
                j += 1
                if p[j] == 120:
                    j += 1
                    while p[j] != 59:
                        c = p[j]
                        cp = cp * 16 + (c - 48 if c <= 57 else (c | 32) - 87)
                        j += 1
                else:
                    while p[j] != 59:
                        cp = cp * 10 + (p[j] - 48)
                        j += 1
                o += _utf8(out + o, cp)
            else:
                # Only XML's five entities pass the tokenizer.
                if p[j] == 108:
                    out[o] = 60                          # &lt;
                elif p[j] == 103:
                    out[o] = 62                          # &gt;
                elif p[j + 1] == 109:
                    out[o] = 38                          # &amp;
                elif p[j] == 97:
                    out[o] = 39                          # &apos;
                else:
                    out[o] = 34                          # &quot;
                o += 1
                while p[j] != 59:
                    j += 1
            i = j + 1
        else:
            out[o] = c
            o += 1
            i += 1
    return o


cdef str _decode(const unsigned char* p, Py_ssize_t n, bint attribute):
    cdef unsigned char* out
    cdef Py_ssize_t o, i
    cdef unsigned char c, high = 0
    cdef bint plain = True
    if xw_plain_ascii(p, n):
        # ASCII with nothing to decode, the common case: no UTF-8 decoder needed.
        text = PyUnicode_New(n, 127)
        memcpy(PyUnicode_DATA(text), p, n)
        return text
    for i in range(n):
        c = p[i]
        high |= c
        if c == 38 or c == 13 or (attribute and (c == 10 or c == 9)):
            plain = False
            break
    if plain:
        if high < 128:
            # ASCII, the common case: no UTF-8 decoder needed.
            text = PyUnicode_New(n, 127)
            memcpy(PyUnicode_DATA(text), p, n)
            return text
        return PyUnicode_DecodeUTF8(<char*>p, n, NULL)
    out = <unsigned char*>PyMem_Malloc(n + 1)
    if out is NULL:
        raise MemoryError()
    try:
        o = _decode_into(p, n, out, attribute, False)
        return PyUnicode_DecodeUTF8(<char*>out, o, NULL)
    finally:
        PyMem_Free(out)


# Neither class can be part of a reference cycle (they hold strings, dicts of
# strings and the caller's target, which never sees them): the garbage
# collector need not track them, and allocating them doesn't bring its next
# pass closer.
@cython.no_gc
@cython.freelist(16)
cdef class _Scope:
    """The namespaces in scope at one point of the walk."""
    cdef str default
    cdef dict prefixes      # shared with the enclosing scope until changed
    cdef bint owned


cdef _Scope _header_scope(tuple namespaces):
    """The scope a stream header gives its stanzas (never changed: tags copy it)."""
    global _scope_key, _scope
    cdef _Scope scope
    if namespaces is _scope_key:
        return _scope
    scope = _Scope.__new__(_Scope)
    scope.default = ""
    scope.prefixes = {}
    scope.owned = False
    for prefix, uri in namespaces:
        if prefix is None:
            scope.default = uri
        else:
            scope.prefixes[prefix] = uri
    _scope = scope
    _scope_key = namespaces
    return scope


cdef struct Tag:
    Py_ssize_t name
    Py_ssize_t nlen
    Py_ssize_t colon        # offset of ':' in the name, -1 if none
    Py_ssize_t end          # just past '>'
    bint empty              # '/>'
    Py_ssize_t first        # first attribute byte (past the name)


cdef Py_ssize_t _skip_ws(const unsigned char* p, Py_ssize_t i) noexcept:
    while _is_ws(p[i]):
        i += 1
    return i


cdef void _scan_name(const unsigned char* p, Py_ssize_t i, Tag* tag) noexcept:
    cdef Py_ssize_t j = i
    tag.name = i
    tag.colon = -1
    while not _ends_name(p[j]):
        if p[j] == 58:
            tag.colon = j - i
        j += 1
    tag.nlen = j - i
    tag.first = j


cdef object _resolve(const unsigned char* p, Py_ssize_t start, Py_ssize_t n, Py_ssize_t colon,
                     str default, dict prefixes, bint element):
    """ElementTree's name for a qualified name: ``{uri}local`` or ``local``."""
    cdef str uri
    cdef size_t slot
    cdef PyObject* found
    if colon < 0:
        if not element or not default:
            return _name(p + start, n)
        uri = default
    else:
        prefix = _name(p + start, colon)
        uri = XML_NS if prefix == "xml" else prefixes[prefix]
    found = xw_cached(<PyObject*>uri, <const char*>(p + start), n, &slot)
    if found is not NULL:
        return <str>found
    if colon < 0:
        tag = "{" + uri + "}" + _name(p + start, n)
    else:
        tag = "{" + uri + "}" + _name(p + start + colon + 1, n - colon - 1)
    xw_remember(slot, <PyObject*>uri, <const char*>(p + start), n, <PyObject*>tag)
    return tag


cdef str START = "start"
cdef str DATA = "data"
cdef str END = "end"
cdef str START_NS = "start_ns"
cdef str END_NS = "end_ns"
# Handed to targets that don't keep it (ElementTree's TreeBuilder keeps no
# empty attribute dict), instead of a new empty dict per element.
cdef dict NO_ATTRIBUTES = {}


cdef inline object _call(object target, str method, object a, object b):
    """``target.method(a)`` or ``target.method(a, b)``, with no bound method made."""
    cdef PyObject* args[4]
    args[0] = NULL                  # room for the callee, as the offset flag allows
    args[1] = <PyObject*>target
    args[2] = <PyObject*>a
    args[3] = <PyObject*>b
    return PyObject_VectorcallMethod(method, &args[1],
                                     (2 if b is None else 3) | PY_VECTORCALL_ARGUMENTS_OFFSET,
                                     NULL)


@cython.no_gc
@cython.freelist(4)
cdef class _Walk:
    """One pass over one validated element, calling the target's methods."""
    cdef const unsigned char* p
    cdef Py_ssize_t n
    cdef object target
    cdef bint fresh             # a new attribute dict per element, even an empty one
    cdef bint start_ns
    cdef bint end_ns
    cdef _Scope inner           # the scope inside the start tag just read
    cdef list stack             # see run()
    # The shared TreeBuilder's bound methods, made once; None: call by name.
    cdef object bound_start
    cdef object bound_data
    cdef object bound_end

    cdef inline void _start(self, str tag, dict attrs) except *:
        if self.bound_start is not None:
            self.bound_start(tag, attrs)
        else:
            _call(self.target, START, tag, attrs)

    cdef inline void _data(self, str text) except *:
        if self.bound_data is not None:
            self.bound_data(text)
        else:
            _call(self.target, DATA, text, None)

    cdef inline void _end(self, str tag) except *:
        if self.bound_end is not None:
            self.bound_end(tag)
        else:
            _call(self.target, END, tag, None)

    cdef dict _start_tag(self, Py_ssize_t i, Tag* tag, _Scope scope, list declared):
        """Attributes of the start tag at ``i`` (past '<'); its scope goes to ``self.inner``.

        ``scope`` is left as it is: a tag that declares namespaces gets a scope
        of its own. Declarations go to ``declared`` as ``(prefix, uri)`` when
        it is a list.
        """
        cdef const unsigned char* p = self.p
        cdef Py_ssize_t j, an, ae, ac, vs, ve, alen
        cdef unsigned char q
        cdef list found = None
        cdef dict attrs
        cdef str value
        cdef _Scope own = scope
        _scan_name(p, i, tag)
        if not self.fresh:
            j = _skip_ws(p, tag.first)
            if p[j] == 62 or p[j] == 47:
                tag.empty = p[j] == 47
                tag.end = j + (2 if tag.empty else 1)
                self.inner = scope
                return NO_ATTRIBUTES
        attrs = {}
        j = tag.first
        while True:
            j = _skip_ws(p, j)
            if p[j] == 62:
                tag.empty = False
                tag.end = j + 1
                break
            if p[j] == 47:
                tag.empty = True
                tag.end = j + 2
                break
            an = j
            ac = -1
            while not _ends_name(p[j]):
                if p[j] == 58 and ac < 0:
                    ac = j - an
                j += 1
            ae = j
            j = _skip_ws(p, j) + 1          # past '='
            j = _skip_ws(p, j)
            q = p[j]
            vs = j + 1
            ve = <Py_ssize_t>(<const unsigned char*>memchr(p + vs, q, self.n - vs) - p)
            j = ve + 1
            if ae - an >= 5 and memcmp(p + an, b"xmlns", 5) == 0 and (ae - an == 5 or ac == 5):
                if own is scope:
                    own = _Scope.__new__(_Scope)
                    own.default = scope.default
                    own.prefixes = scope.prefixes
                    own.owned = False
                # The same few namespaces in every stanza: one string each.
                if xw_plain_ascii(p + vs, ve - vs):
                    value = _name(p + vs, ve - vs)
                else:
                    value = _decode(p + vs, ve - vs, True)
                if ae - an == 5:
                    own.default = value
                    if declared is not None:
                        declared.append(("", value))
                else:
                    prefix = _name(p + an + 6, ae - an - 6)
                    if not own.owned:
                        own.prefixes = dict(own.prefixes)
                        own.owned = True
                    own.prefixes[prefix] = value
                    if declared is not None:
                        declared.append((prefix, value))
                continue
            value = _decode(p + vs, ve - vs, True)
            if ac < 0:
                attrs[_name(p + an, ae - an)] = value
            else:
                if found is None:
                    found = []
                found.append((an, ae - an, ac, value))
        if found is not None:
            # Resolved once every declaration of the tag is known.
            for an, alen, ac, value in found:
                attrs[_resolve(p, an, alen, ac, own.default, own.prefixes, False)] = value
        self.inner = own
        return attrs

    cdef Py_ssize_t _text(self, Py_ssize_t i, Py_ssize_t stop) except -1:
        """Character data and CDATA sections from ``i`` up to the next tag, as one call.

        Returns where that tag begins.
        """
        cdef const unsigned char* p = self.p
        cdef Py_ssize_t j = i, k, o = 0
        cdef unsigned char* out
        cdef const unsigned char* cut
        cdef bint simple = True
        # The run ends at a '<' that is not a CDATA section.
        while True:
            j = <Py_ssize_t>(<const unsigned char*>memchr(p + j, 60, stop - j) - p)
            if p[j + 1] == 33:              # <![CDATA[
                simple = False
                j += 9
                while not (p[j] == 93 and p[j + 1] == 93 and p[j + 2] == 62):
                    j += 1
                j += 3
                continue
            break
        if simple:
            self._data(_decode(p + i, j - i, False))
            return j
        out = <unsigned char*>PyMem_Malloc(j - i + 1)
        if out is NULL:
            raise MemoryError()
        try:
            k = i
            while k < j:
                if p[k] == 60:
                    k += 9
                    stop = k
                    while not (p[stop] == 93 and p[stop + 1] == 93 and p[stop + 2] == 62):
                        stop += 1
                    o += _decode_into(p + k, stop - k, out + o, False, True)
                    k = stop + 3
                else:
                    # The next CDATA section, or the end of the run.
                    cut = <const unsigned char*>memchr(p + k, 60, j - k)
                    stop = j if cut is NULL else <Py_ssize_t>(cut - p)
                    o += _decode_into(p + k, stop - k, out + o, False, False)
                    k = stop
            if o:                           # empty CDATA sections are no text
                self._data(PyUnicode_DecodeUTF8(<char*>out, o, NULL))
        finally:
            PyMem_Free(out)
        return j

    cdef void run(self, tuple namespaces) except *:
        cdef const unsigned char* p = self.p
        cdef Py_ssize_t i = 0, n = self.n
        cdef Tag tag
        cdef _Scope scope, inner
        # Per open element: the scope outside it and its tag, at 2*depth and
        # 2*depth + 1. Slots are overwritten, never removed: no resizing.
        cdef list stack = self.stack
        cdef Py_ssize_t depth = 0
        cdef list declared = None
        cdef list open_declared = None    # per open element: what it declared
        cdef bint report_ns = self.start_ns or self.end_ns
        scope = _header_scope(namespaces)
        if report_ns:
            open_declared = []
        while i < n:
            if p[i] != 60 or p[i + 1] == 33:
                i = self._text(i, n)
                continue
            if p[i + 1] == 47:              # an end tag
                depth -= 1
                tag_name = stack[2 * depth + 1]
                scope = stack[2 * depth]
                self._end(tag_name)
                if open_declared is not None:
                    self._end_ns(open_declared.pop())
                i = <Py_ssize_t>(<const unsigned char*>memchr(p + i, 62, n - i) - p) + 1
                continue
            if report_ns:
                declared = []
            attrs = self._start_tag(i + 1, &tag, scope, declared)
            inner = self.inner
            tag_name = _resolve(p, tag.name, tag.nlen, tag.colon, inner.default,
                                inner.prefixes, True)
            if declared and self.start_ns:
                for prefix, uri in declared:
                    _call(self.target, START_NS, prefix, uri)
            self._start(tag_name, attrs)
            i = tag.end
            if tag.empty:
                self._end(tag_name)
                if open_declared is not None:
                    self._end_ns(declared)
            else:
                if 2 * depth + 2 > len(stack):
                    stack.extend([None] * 16)
                stack[2 * depth] = scope
                stack[2 * depth + 1] = tag_name
                depth += 1
                scope = inner
                if open_declared is not None:
                    open_declared.append(declared)

    cdef void _end_ns(self, list declared) except *:
        if not self.end_ns or not declared:
            return
        for prefix, _ in reversed(declared):
            _call(self.target, END_NS, prefix, None)


cdef _Walk _walker(bytes raw):
    cdef _Walk walk = _Walk.__new__(_Walk)
    walk.p = <const unsigned char*>PyBytes_AS_STRING(raw)
    walk.n = PyBytes_GET_SIZE(raw)
    walk.fresh = True
    return walk


def attributes(bytes raw not None, tuple namespaces not None, matched=None):
    """The attributes of the element's start tag, keyed by ElementTree names.

    ``matched`` is for the pure twin's signature: here the start tag is read from ``raw``.
    """
    return _attributes(raw, namespaces)


cdef dict _attributes(bytes raw, tuple namespaces):
    cdef _Walk walk = _walker(raw)
    cdef Tag tag
    return walk._start_tag(1, &tag, _header_scope(namespaces), None)


def read_attributes(event):
    """The attributes of an ``ElementReceived``, decoded and kept in the event."""
    if type(event) is not ElementReceived:
        raise TypeError(f"an ElementReceived, not {type(event).__name__}")
    namespaces = _namespaces_of(event)
    attrs = _attributes(<object>xw_slot_get(event, RAW_SLOT), namespaces)
    xw_slot_set(event, ATTRS_SLOT, attrs)
    return attrs


def build(bytes raw not None, tuple namespaces not None, target):
    """Drive a TreeBuilder-protocol target through the element (see ElementReceived.build)."""
    cdef _Walk walk = _walker(raw)
    walk.target = target
    walk.stack = [None] * 16
    walk.start_ns = hasattr(target, "start_ns")
    walk.end_ns = hasattr(target, "end_ns")
    walk.run(namespaces)


# One TreeBuilder for every tree, inside an element of its own that each new
# tree goes into and is taken out of at once, and one walk stack: making and
# closing a TreeBuilder and a list per stanza costs as much as a third of
# building the stanza. The walk runs with the GIL held and calls only the C
# TreeBuilder, so no other thread can come in between; a tree asked for while
# one is being built (a finalizer run by the garbage collector, say) and every
# tree without a GIL get a builder and a stack of their own. The stack keeps
# the names of the deepest tree seen until they are overwritten.
cdef object _builder = None
cdef object _holder = None
cdef list _shared_stack = [None] * 16
cdef bint _building = False
cdef object _builder_start = None
cdef object _builder_data = None
cdef object _builder_end = None


cdef extern from *:
    """
    #ifdef Py_GIL_DISABLED
    #define XW_SHARED_BUILDER 0
    #else
    #define XW_SHARED_BUILDER 1
    #endif
    """
    bint XW_SHARED_BUILDER


def element(bytes raw not None, tuple namespaces not None):
    """The element as an ``xml.etree.ElementTree.Element``."""
    return _element(raw, namespaces)


cdef object _element(bytes raw, tuple namespaces):
    global _builder, _holder, _builder_start, _builder_data, _builder_end, _building
    cdef _Walk walk = _walker(raw)
    walk.fresh = False
    if not XW_SHARED_BUILDER or _building:
        walk.stack = [None] * 16
        walk.target = TreeBuilder()
        walk.run(namespaces)
        return walk.target.close()
    if _builder is None:
        _builder = TreeBuilder()
        _holder = _builder.start("xmppwire-holder", NO_ATTRIBUTES)
        _builder_start = _builder.start
        _builder_data = _builder.data
        _builder_end = _builder.end
    holder = _holder
    walk.stack = _shared_stack
    walk.target = _builder
    walk.bound_start = _builder_start
    walk.bound_data = _builder_data
    walk.bound_end = _builder_end
    _building = True
    try:
        walk.run(namespaces)
    except BaseException:
        # Whatever state the builder was left in, the next tree starts afresh.
        _builder = _holder = None
        raise
    finally:
        _building = False
    tree = holder[0]
    del holder[0]
    return tree


# -- the event's accessors, compiled ------------------------------------------------------------
#
# ElementReceived's attribute properties and tree methods are Python code that
# asks the event's reader; per stanza, that Python frame costs as much as the
# read itself. When the compiled twins are in use they are replaced by these,
# which read the event's slots directly and take the same way for an event of
# either twin (the pure twin's events still go to the pure reader).

cdef Py_ssize_t READER_SLOT = xw_slot_offset(ElementReceived.__dict__["_reader"])
cdef object THIS_MODULE = None


cdef inline object _reader_of(object event):
    reader = <object>xw_slot_get(event, READER_SLOT)
    if reader is None or reader is THIS_MODULE:
        return None
    return reader


cdef inline dict _attrs_of(object event):
    if type(event) is not ElementReceived:
        raise TypeError(f"an ElementReceived, not {type(event).__name__}")
    attrs = <object>xw_slot_get(event, ATTRS_SLOT)
    if type(attrs) is dict:
        return <dict>attrs
    reader = _reader_of(event)
    if reader is not None:
        return reader.read_attributes(event)
    return read_attributes(event)


def _attrs_property(event):
    return _attrs_of(event)


def _to_property(event):
    return _attrs_of(event).get("to")


def _from_property(event):
    return _attrs_of(event).get("from")


def _id_property(event):
    return _attrs_of(event).get("id")


def _type_property(event):
    return _attrs_of(event).get("type")


def _get_method(event, name, default=None):
    return _attrs_of(event).get(name, default)


cdef inline object _namespaces_of(object event):
    """The declarations of the event's stream header."""
    if type(event) is not ElementReceived:
        raise TypeError(f"an ElementReceived, not {type(event).__name__}")
    header = <object>xw_slot_get(event, HEADER_SLOT)
    if type(header) is StreamHeader:
        return <object>xw_slot_get(header, NAMESPACES_SLOT)
    return header.namespaces


def _element_method(event):
    namespaces = _namespaces_of(event)
    raw = <object>xw_slot_get(event, RAW_SLOT)
    reader = _reader_of(event)
    return _element(raw, namespaces) if reader is None else reader.element(raw, namespaces)


def _build_method(event, target):
    namespaces = _namespaces_of(event)
    raw = <object>xw_slot_get(event, RAW_SLOT)
    reader = _reader_of(event)
    if reader is None:
        build(raw, namespaces, target)
    else:
        reader.build(raw, namespaces, target)


def install_event_accessors():
    """Serve ElementReceived's attributes and trees from here (called by ``_impl``)."""
    global THIS_MODULE
    import sys

    THIS_MODULE = sys.modules[__name__]
    cls = ElementReceived
    for name, getter in (
        ("attrs", _attrs_property),
        ("to", _to_property),
        ("from_", _from_property),
        ("id", _id_property),
        ("type", _type_property),
    ):
        setattr(cls, name, property(getter, doc=cls.__dict__[name].__doc__))
    for name, method in (("get", _get_method), ("element", _element_method),
                         ("build", _build_method)):
        method.__doc__ = cls.__dict__[name].__doc__
        setattr(cls, name, method)
