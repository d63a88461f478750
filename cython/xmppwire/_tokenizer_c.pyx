# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False
"""Compiled twin of the stream tokenizer; docs/stream-parser.md is its contract.

One pass over a growing byte buffer. Tokens that end in the buffer are parsed
strictly, left to right, in a single pass; when that pass meets anything
wrong it does not report it at once but hands the token to a judge that
re-reads the whole token in the contract's order (size, then UTF-8, then the
token's rules), so the first error is the same whatever the chunking. A token
cut by the end of the data is resumed where its scan stopped, not re-read.
"""

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.mem cimport PyMem_Calloc, PyMem_Free, PyMem_Realloc
from cpython.object cimport PyObject, PyTypeObject
from cpython.ref cimport Py_INCREF, Py_XDECREF
from cpython.unicode cimport PyUnicode_DecodeUTF8, PyUnicode_GET_LENGTH
from libc.stdint cimport uint32_t, uint64_t
from libc.string cimport memchr, memcmp, memcpy, memmove, memset

include "_chars.pxi"

import re

from xmppwire import _tree_c
from xmppwire._rawxml import attribute_value
from xmppwire.errors import LocalProtocolError, RemoteProtocolError
from xmppwire.events import (
    STREAMS_NS,
    ElementReceived,
    StreamClosed,
    StreamHeader,
    StreamOpened,
    TextReceived,
    WhitespaceReceived,
)
from xmppwire.limits import DEFAULT_LIMITS, Limits

__all__ = ["StreamParser"]

cdef str XML_NS = "http://www.w3.org/XML/1998/namespace"
# Reads the attributes and trees of the elements this twin splits.
cdef object READER = _tree_c
cdef str XMLNS_NS = "http://www.w3.org/2000/xmlns/"
cdef const char* XML_NS_BYTES = b"http://www.w3.org/XML/1998/namespace"
cdef const char* XMLNS_NS_BYTES = b"http://www.w3.org/2000/xmlns/"
cdef str XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
cdef object VERSION_RE = re.compile(r"([0-9]+)\.([0-9]+)")
cdef object ENCNAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9._\-]*")

cdef extern from "Python.h":
    const unsigned long Py_TPFLAGS_HAVE_GC
    bint PyUnicode_IS_ASCII(object o)
    void* PyUnicode_DATA(object o)


cdef extern from *:
    """
    #include "structmember.h"

    static Py_ssize_t xw_member_offset(PyObject *descr) {
        return ((PyMemberDescrObject *)descr)->d_member->offset;
    }

    /* A slots object built without its __init__: for the frozen dataclass
       events, whose __init__ sets every field through object.__setattr__.
       Only types that are exactly these n slots come here (_slots_offsets
       checks the size), so every byte after the header is set before the
       object is tracked: tp_alloc's size arithmetic and zeroing (a fifth of an
       event's cost) are skipped. */
    static PyObject *xw_new_slots(PyTypeObject *type, int n, const Py_ssize_t *offsets,
                                  PyObject **values) {
        /* (A class with object slots is always garbage-collected.) */
        PyObject *obj = (PyObject *)PyObject_GC_New(PyObject, type);
        int i;
        if (obj == NULL) return NULL;
        for (i = 0; i < n; i++) {
            Py_INCREF(values[i]);
            *(PyObject **)((char *)obj + offsets[i]) = values[i];
        }
        PyObject_GC_Track(obj);
        return obj;
    }

    /* An empty list with room for n items, for the events of one feed(): a
       list grown from empty is reallocated three or four times over a 4 KiB
       feed of stanzas. */
    static PyObject *xw_list_with_room(Py_ssize_t n) {
        PyObject *list = PyList_New(n);
        if (list != NULL) Py_SET_SIZE(list, 0);
        return list;
    }

    /* Append to such a list: into its room while there is some. (Cython's own
       append takes that path only once the list is more than half full, and
       PyList_Append would give the room back.) */
    static CYTHON_INLINE int xw_list_add(PyObject *list, PyObject *item) {
        Py_ssize_t n = Py_SIZE(list);
        if (n < ((PyListObject *)list)->allocated) {
            Py_INCREF(item);
            PyList_SET_ITEM(list, n, item);
            Py_SET_SIZE(list, n + 1);
            return 0;
        }
        return PyList_Append(list, item);
    }

    /* One spare buffer of MIN_CAPACITY bytes per process: a parser left holding
       nothing parks its buffer here and the next one to need a buffer takes it,
       so idle streams hold no buffer and a stream fed one stanza at a time does
       not allocate on every feed. Swapped atomically: parsers of other threads
       may run at the same time where there is no GIL. */
    static void *xw_spare = NULL;
    #if defined(_MSC_VER)
    #define xw_swap_spare(p) InterlockedExchangePointer(&xw_spare, (p))
    #else
    #define xw_swap_spare(p) __atomic_exchange_n(&xw_spare, (p), __ATOMIC_ACQ_REL)
    #endif
    """
    Py_ssize_t xw_member_offset(object descr)
    void* xw_swap_spare(void* p) noexcept nogil
    object xw_new_slots(PyTypeObject* type, int n, const Py_ssize_t* offsets, PyObject** values)
    list xw_list_with_room(Py_ssize_t n)
    int xw_list_add(list events, object item) except -1


# Conditions
cdef enum:
    C_NWF = 0
    C_RESTRICTED = 1
    C_ENCODING = 2
    C_INVALID_NS = 3
    C_VERSION = 4
    C_POLICY = 5

cdef tuple CONDITIONS = (
    "not-well-formed", "restricted-xml", "unsupported-encoding", "invalid-namespace",
    "unsupported-version", "policy-violation",
)

# Results of the scanning steps
cdef enum:
    R_OK = 0      # progress made
    R_NEED = 1    # the data ends inside a token
    R_STOP = 2    # paused
    R_ERR = 3     # a stream error, described by err_*

# States
cdef enum:
    S_PROLOG = 0
    S_ROOT = 1
    S_CLOSED = 2

# Incomplete tokens
cdef enum:
    P_NONE = 0
    P_TEXT = 1    # text inside an element, or depth-1 character data
    P_STAG = 2
    P_ETAG = 3
    P_CDATA = 4
    P_DECL = 5
    P_PI = 6

# Where a start tag stands
cdef enum:
    W_ROOT = 0
    W_TOP = 1
    W_NESTED = 2

# Attribute kinds
cdef enum:
    A_PLAIN = 0
    A_XMLNS = 1      # xmlns="..."
    A_XMLNS_P = 2    # xmlns:p="..."
    A_XML = 3        # xml:lang and other xml: attributes
    A_PREFIXED = 4   # any other prefix

# Reference results
cdef enum:
    REF_OK = 0
    REF_NEED = 1
    REF_NWF = 2
    REF_RESTRICTED = 3

ctypedef struct Attr:
    Py_ssize_t name
    Py_ssize_t nlen
    Py_ssize_t colon      # index of the ':' in the buffer, -1 if none
    Py_ssize_t val
    Py_ssize_t vlen
    int kind
    int plain             # the value needs no decoding: no '&', tab, CR or LF

# Interned names: direct-mapped, allocated with the first name. Few slots, since
# a stream uses few names and an idle parser should hold little.
DEF CACHE_SLOTS = 64
# Attributes of one tag checked for duplicates pairwise; past them, by a hash table.
DEF DUP_LINEAR = 16
DEF CACHE_MAX = 64
# The buffer doubles as needed from here and compaction moves only what is held.
# A parser holding nothing after a feed gives its buffer back (servers hold
# many idle streams), and takes one again with the next feed.
DEF MIN_CAPACITY = 16384
# Bytes allocated beyond the capacity: a NUL after the data stops every scan
# loop (NUL is no name, space or text character) and 16-byte reads may run past it.
DEF SLACK = 32
cdef long long LIMIT_CAP = 1LL << 60
# Element names checked before, kept to skip their character checks: slots.
DEF KNOWN_SLOTS = 16
# Whitespace runs between elements up to this many bytes keep their event for reuse.
DEF WS_KEEP = 16
# Room for the events of a 4 KiB feed of small stanzas (and their whitespace) in the
# list feed() returns.
DEF EVENTS_ROOM = 32
# NAME_MASK[n] keeps the first n bytes of an 8-byte word read from memory,
# whatever the byte order.
cdef uint64_t NAME_MASK[9]


cdef void _init_tables() noexcept:
    cdef int c
    for c in range(256):
        xw_cc[c] = 0
        if (65 <= c <= 90) or (97 <= c <= 122) or c == 95:
            xw_cc[c] |= CC_NAMESTART | CC_NAME
        if (48 <= c <= 57) or c == 45 or c == 46:
            xw_cc[c] |= CC_NAME
        if c == 32 or c == 9 or c == 10 or c == 13:
            xw_cc[c] |= CC_WS
        elif c < 32:
            xw_cc[c] |= CC_TEXT | CC_ILLEGAL
        if c >= 128 or c == 60 or c == 38:
            xw_cc[c] |= CC_TEXT
        if c == 93:
            xw_cc[c] |= CC_TEXT


_init_tables()


cdef void _init_name_masks() noexcept:
    cdef unsigned char bytes_[8]
    cdef int n
    for n in range(9):
        memset(bytes_, 0xFF, n)
        memset(bytes_ + n, 0, 8 - n)
        memcpy(&NAME_MASK[n], bytes_, 8)


_init_name_masks()

# Fast construction of the events: offsets of their slots.
cdef Py_ssize_t ER_OFFSETS[6]
cdef Py_ssize_t WS_OFFSETS[1]
cdef Py_ssize_t TX_OFFSETS[1]
cdef bint FAST_EVENTS = False


cdef bint _slots_offsets(type cls, tuple names, Py_ssize_t* out):
    # Only when the slots are exactly these fields, and nothing runs after __init__.
    if tuple(cls.__dict__.get("__slots__", ())) != names or hasattr(cls, "__post_init__"):
        return False
    # ... and the object is nothing but them (no base slots, __dict__ or
    # __weakref__): xw_new_slots sets every word of it.
    if (cls.__basicsize__ != object.__basicsize__ + len(names) * sizeof(PyObject*)
            or cls.__itemsize__ or cls.__dictoffset__ or cls.__weakrefoffset__
            or not (<PyTypeObject*>cls).tp_flags & Py_TPFLAGS_HAVE_GC):
        return False
    cdef int i
    for i, name in enumerate(names):
        descr = cls.__dict__.get(name)
        if type(descr).__name__ != "member_descriptor":
            return False
        out[i] = xw_member_offset(descr)
    return True


def _setup_events():
    global FAST_EVENTS
    try:
        FAST_EVENTS = (
            _slots_offsets(ElementReceived,
                           ("namespace", "name", "raw", "header", "_attrs", "_reader"),
                           ER_OFFSETS)
            and _slots_offsets(WhitespaceReceived, ("raw",), WS_OFFSETS)
            and _slots_offsets(TextReceived, ("raw",), TX_OFFSETS)
        )
    except Exception:
        FAST_EVENTS = False


_setup_events()


def _fast_events():
    """Whether events are built straight into their slots (for the tests)."""
    return FAST_EVENTS


cdef PyTypeObject* ER_TYPE = <PyTypeObject*>ElementReceived
cdef PyTypeObject* WS_TYPE = <PyTypeObject*>WhitespaceReceived
cdef PyTypeObject* TX_TYPE = <PyTypeObject*>TextReceived


cdef inline object _element_event(PyObject* ns, PyObject* name, object raw, PyObject* header):
    # ns, name and header are borrowed from the parser, which holds them
    # throughout: passed as objects, each would be taken and released once more.
    cdef PyObject* values[6]
    if FAST_EVENTS:
        values[0] = ns
        values[1] = name
        values[2] = <PyObject*>raw
        values[3] = header
        values[4] = <PyObject*>None
        values[5] = <PyObject*>READER
        return xw_new_slots(ER_TYPE, 6, ER_OFFSETS, values)
    return ElementReceived(namespace=<object>ns, name=<object>name, raw=raw,
                           header=<object>header, _reader=READER)


cdef inline object _raw_event(PyTypeObject* cls, Py_ssize_t* offsets, object raw):
    cdef PyObject* values[1]
    if FAST_EVENTS:
        values[0] = <PyObject*>raw
        return xw_new_slots(cls, 1, offsets, values)
    return (<object>cls)(raw=raw)


cdef inline bint _same(const unsigned char* a, const unsigned char* b, Py_ssize_t n) noexcept:
    """memcmp(a, b, n) == 0 without a call, for the short names compared per tag.

    The last word is read overlapping the one before it instead of byte by
    byte: names are mostly 2 to 8 bytes, where a byte loop cost more than the
    rest of the comparison.
    """
    cdef uint64_t x, y
    cdef uint32_t u, v
    if n >= 8:
        while n > 8:
            memcpy(&x, a, 8)
            memcpy(&y, b, 8)
            if x != y:
                return False
            a += 8
            b += 8
            n -= 8
        memcpy(&x, a + n - 8, 8)
        memcpy(&y, b + n - 8, 8)
        return x == y
    if n >= 4:
        memcpy(&u, a, 4)
        memcpy(&v, b, 4)
        if u != v:
            return False
        memcpy(&u, a + n - 4, 4)
        memcpy(&v, b + n - 4, 4)
        return u == v
    if n > 0:
        # Bytes 0, n / 2 and n - 1 cover every byte of a 1- to 3-byte name.
        return a[0] == b[0] and a[n >> 1] == b[n >> 1] and a[n - 1] == b[n - 1]
    return True


cdef inline Py_ssize_t _skip_ws(const unsigned char* p, Py_ssize_t i) noexcept:
    """Past the whitespace at p[i]: one byte alone is the common case, longer runs
    (indentation) go 16 bytes at a time. The NUL after the data ends a run."""
    if xw_cc[p[i]] & CC_WS:
        i += 1
        if xw_cc[p[i]] & CC_WS:
            i += 1 + xw_ws_run(p + i + 1)
    return i


cdef inline size_t _name_hash(const unsigned char* s, Py_ssize_t n) noexcept:
    """FNV-1a of a name's bytes."""
    cdef uint64_t h = 14695981039346656037ULL
    cdef Py_ssize_t k
    for k in range(n):
        h = (h ^ s[k]) * 1099511628211ULL
    return <size_t>(h ^ (h >> 29))


cdef inline bint _cannot_begin_utf8(unsigned char c) noexcept:
    return (0x80 <= c <= 0xC1) or c >= 0xF5


cdef inline Py_ssize_t _utf8_error(const unsigned char* p, Py_ssize_t i,
                                   Py_ssize_t end) noexcept:
    """Index of the first byte of the first invalid sequence in p[i:end], or -1."""
    cdef uint32_t cp
    cdef int r
    while i < end:
        if p[i] < 0x80:
            i += 1
            continue
        r = utf8_decode(p, i, end, &cp)
        if r <= 0:
            return i
        i += r
    return -1


cdef int _reference(const unsigned char* p, Py_ssize_t i, Py_ssize_t end,
                    Py_ssize_t* after) noexcept:
    """Judge the reference at p[i] == '&' within p[:end] (valid UTF-8 up to end)."""
    cdef Py_ssize_t j = i + 1
    cdef uint32_t value = 0, cp
    cdef int digits = 0, d, r
    cdef unsigned char c
    cdef bint first
    if j >= end:
        return REF_NEED
    c = p[j]
    # The five predefined entities, the usual ones by far, whole before `end`:
    # a compare or two rather than the name scan below (same answers).
    if c == 108 or c == 103:  # &lt; &gt;
        if i + 4 <= end and p[i + 2] == 116 and p[i + 3] == 59:
            after[0] = i + 4
            return REF_OK
    elif c == 97:  # &amp; &apos;
        if i + 5 <= end and memcmp(p + i + 2, b"mp;", 3) == 0:
            after[0] = i + 5
            return REF_OK
        if i + 6 <= end and memcmp(p + i + 2, b"pos;", 4) == 0:
            after[0] = i + 6
            return REF_OK
    elif c == 113:  # &quot;
        if i + 6 <= end and memcmp(p + i + 2, b"uot;", 4) == 0:
            after[0] = i + 6
            return REF_OK
    if c == 35:  # '#'
        j += 1
        if j >= end:
            return REF_NEED
        if p[j] == 120:  # 'x'
            j += 1
            while j < end:
                c = p[j]
                if 48 <= c <= 57:
                    d = c - 48
                elif 97 <= c <= 102:
                    d = c - 87
                elif 65 <= c <= 70:
                    d = c - 55
                else:
                    break
                if value > 0x10FFFF:
                    value = 0x110000
                else:
                    value = value * 16 + d
                digits += 1
                j += 1
        else:
            while j < end:
                c = p[j]
                if not (48 <= c <= 57):
                    break
                if value > 0x10FFFF:
                    value = 0x110000
                else:
                    value = value * 10 + (c - 48)
                digits += 1
                j += 1
        if j >= end:
            return REF_NEED
        if p[j] != 59 or digits == 0:
            return REF_NWF
        if not is_xml_char(value):
            return REF_NWF
        after[0] = j + 1
        return REF_OK
    # &Name;
    first = True
    while j < end:
        c = p[j]
        if c < 0x80:
            if c == 58 or (xw_cc[c] & (CC_NAMESTART if first else CC_NAME)):
                j += 1
                first = False
                continue
            break
        r = utf8_decode(p, j, end, &cp)
        if r == 0:
            return REF_NEED
        if r < 0:
            return REF_NWF
        if (is_name_start(cp) if first else is_name_char(cp)):
            j += r
            first = False
            continue
        break
    if j >= end:
        return REF_NEED
    if first or p[j] != 59:
        return REF_NWF
    after[0] = j + 1
    d = <int>(j - i - 1)
    if ((d == 2 and (p[i + 1] == 108 or p[i + 1] == 103) and p[i + 2] == 116)
            or (d == 3 and memcmp(p + i + 1, b"amp", 3) == 0)
            or (d == 4 and (memcmp(p + i + 1, b"apos", 4) == 0
                            or memcmp(p + i + 1, b"quot", 4) == 0))):
        return REF_OK
    return REF_RESTRICTED


@cython.final
cdef class StreamParser:
    """Splits one direction of an XMPP stream into events; see docs/stream-parser.md.

    One stream has one order of bytes, so a parser is fed from one thread at a
    time; a call that overlaps another raises RuntimeError rather than mixing
    their state.
    """

    cdef unsigned char* buf
    cdef Py_ssize_t cap
    cdef Py_ssize_t blen        # bytes held in buf
    cdef Py_ssize_t pos         # start of what is still held (token, text, element)
    cdef long long base         # stream offset of buf[0]
    cdef long long received     # bytes accepted since the stream began
    cdef int state
    cdef int level              # open elements inside the root
    cdef bint prolog_content
    # the incomplete token
    cdef int pend
    cdef long long scan         # stream offset where its scan resumes
    cdef int quote              # open quote of an incomplete start tag
    cdef bint tbad              # incomplete text already known to be in error
    cdef long long tok_end      # stream offset of the end of a tracked token
    # the open top-level element
    cdef long long elem_start
    cdef Py_ssize_t* st_off     # open elements' names, relative to elem_start
    cdef Py_ssize_t* st_len
    cdef Py_ssize_t st_cap
    cdef object cur_ns
    cdef object cur_name
    # the last start or end tag parsed
    cdef Py_ssize_t t_end
    cdef bint t_empty
    cdef Py_ssize_t t_name
    cdef Py_ssize_t t_nlen
    cdef Py_ssize_t t_colon
    cdef Attr* attrs
    cdef Py_ssize_t nattrs
    cdef Py_ssize_t attrs_cap
    cdef Py_ssize_t* dup_table  # attribute indices by name hash, -1 free (_seen_attribute)
    cdef Py_ssize_t dup_cap
    cdef int t_kinds            # union of the attributes' kind bits
    cdef int t_impure           # some declaration value needs decoding
    cdef int t_reserved         # some xmlns value is as long as a reserved URI
    # namespace scopes: header declarations, then those of open elements
    cdef dict header_scope
    cdef list scopes            # (level, {prefix: uri}) of open elements with declarations
    cdef object default_ns
    cdef bytes root_name
    cdef object _header
    # error
    cdef int err_cond
    cdef long long err_off
    cdef str err_msg
    cdef object error
    # pause
    cdef object _pause_after
    cdef object pause_names
    cdef bint _paused
    cdef bytes unparsed
    # limits
    cdef object _limits
    cdef long long max_stanza
    cdef long long max_header
    cdef long long max_depth
    cdef long long max_attrs
    cdef long long max_name
    cdef long long max_value
    # interned names and namespaces
    cdef PyObject** cache       # CACHE_SLOTS ASCII str, or NULL before the first name
    cdef bint busy
    # Element names (ASCII, no prefix, at most 8 bytes) that passed the name
    # checks, by a hash of their first bytes: the same bytes at the next '<'
    # need only be compared (_stag_strict).
    cdef uint64_t known_word[KNOWN_SLOTS]
    cdef unsigned char known_len[KNOWN_SLOTS]    # 0: a free slot
    cdef dict _own              # declarations of the start tag just parsed
    cdef bytes ws_raw           # the last short whitespace run between elements
    cdef object ws_event        # and its event, handed out again for the same bytes
    cdef object t_ns            # its namespace, when resolved by _namespaces

    def __cinit__(self):
        self.buf = NULL
        self.cap = 0
        self.st_off = NULL
        self.st_len = NULL
        self.st_cap = 0
        self.attrs = NULL
        self.attrs_cap = 0
        self.dup_table = NULL
        self.dup_cap = 0
        self.cache = NULL
        memset(self.known_len, 0, sizeof(self.known_len))

    def __dealloc__(self):
        cdef int k
        self._drop_buffer()
        PyMem_Free(self.st_off)
        PyMem_Free(self.st_len)
        PyMem_Free(self.attrs)
        PyMem_Free(self.dup_table)
        if self.cache != NULL:
            for k in range(CACHE_SLOTS):
                Py_XDECREF(self.cache[k])
            PyMem_Free(self.cache)

    def __init__(self, *, limits=DEFAULT_LIMITS, pause_after=()):
        if not isinstance(limits, Limits):
            raise TypeError(f"limits must be a Limits, not {type(limits).__name__}")
        self._limits = limits
        self.max_stanza = min(limits.max_stanza_bytes, LIMIT_CAP)
        self.max_header = min(limits.max_header_bytes, LIMIT_CAP)
        self.max_depth = min(limits.max_depth, LIMIT_CAP)
        self.max_attrs = min(limits.max_attributes, LIMIT_CAP)
        self.max_name = min(limits.max_name_bytes, LIMIT_CAP)
        self.max_value = min(limits.max_attribute_value_bytes, LIMIT_CAP)
        self._pause_after = frozenset()
        self.pause_names = None
        self.pause_after = pause_after
        self._clear()

    # -- public API -------------------------------------------------------------------------

    @property
    def limits(self):
        return self._limits

    @property
    def pause_after(self):
        return self._pause_after

    @pause_after.setter
    def pause_after(self, names):
        pairs = frozenset(names)
        for pair in pairs:
            if (
                not isinstance(pair, tuple)
                or len(pair) != 2
                or not isinstance(pair[0], str)
                or not isinstance(pair[1], str)
            ):
                raise TypeError(f"pause_after holds (namespace, name) pairs of str, not {pair!r}")
        names = frozenset(name for _, name in pairs) if pairs else None
        self._enter()
        try:
            self._pause_after = pairs
            self.pause_names = names
        finally:
            self._leave()

    @property
    def paused(self):
        return self._paused

    @property
    def offset(self):
        return self.received

    @property
    def header(self):
        return self._header

    def feed(self, data):
        """Parse more of the stream; an empty ``data`` means end of input."""
        cdef Py_buffer view
        cdef list events
        cdef int r
        self._enter()
        try:
            if self.error is not None:
                # A fresh traceback each time, or re-raising would chain them forever.
                raise self.error.with_traceback(None)
            if not isinstance(data, (bytes, bytearray, memoryview)):
                raise TypeError(
                    f"feed() takes bytes, bytearray or memoryview, not {type(data).__name__}"
                )
            if self._paused:
                raise LocalProtocolError("the parser is paused: take_unparsed(), then reset()")
            events = xw_list_with_room(EVENTS_ROOM)
            if type(data) is bytes:
                if PyBytes_GET_SIZE(data) == 0:
                    return self._end_of_input()
                self._append(<const unsigned char*>PyBytes_AS_STRING(data),
                             PyBytes_GET_SIZE(data))
            else:
                try:
                    PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
                except BufferError:
                    raise TypeError("feed() takes a C-contiguous bytes-like object") from None
                try:
                    if view.len == 0:
                        return self._end_of_input()
                    self._append(<const unsigned char*>view.buf, view.len)
                finally:
                    PyBuffer_Release(&view)
            r = self._run(events)
            if r == R_ERR:
                self._raise(events)
            if self.pos == self.blen and self.level == 0 and self.buf != NULL:
                # Nothing is held: an idle stream keeps no buffer.
                self._drop_buffer()
            return events
        finally:
            self._leave()

    def close(self):
        """End of input: ``[]`` at a stream boundary, else ``RemoteProtocolError``."""
        return self.feed(b"")

    def reset(self):
        """Begin a new stream; limits and pause_after are kept."""
        self._enter()
        try:
            self._clear()
        finally:
            self._leave()

    def take_unparsed(self):
        """The bytes after the element that paused the parser; they are then forgotten."""
        self._enter()
        try:
            rest = self.unparsed
            self.unparsed = b""
        finally:
            self._leave()
        return rest

    # -- state ------------------------------------------------------------------------------

    cdef void _enter(self) except *:
        # The flag, not the critical section, guards the state: a critical
        # section may be suspended while feed() runs Python code.
        with cython.critical_section(self):
            if self.busy:
                raise RuntimeError("StreamParser used from two threads at once")
            self.busy = True

    cdef void _leave(self) noexcept:
        with cython.critical_section(self):
            self.busy = False

    cdef void _clear(self):
        self.blen = 0
        self.pos = 0
        self.base = 0
        self.received = 0
        self.state = S_PROLOG
        self.level = 0
        self.prolog_content = False
        self.pend = P_NONE
        self.scan = 0
        self.quote = 0
        self.tbad = False
        self.elem_start = 0
        self.cur_ns = None
        self.cur_name = None
        self.header_scope = {}
        self.scopes = []
        self.default_ns = ""
        self.root_name = b""
        self._header = None
        self.error = None
        self._paused = False
        self.unparsed = b""
        if self.cap > 4 * MIN_CAPACITY:
            PyMem_Free(self.buf)
            self.buf = NULL
            self.cap = 0

    cdef object _end_of_input(self):
        if self.state == S_CLOSED or (self.state == S_PROLOG and not self.prolog_content):
            return []
        self.err_cond = C_NWF
        self.err_off = self.received
        self.err_msg = "end of input inside the stream"
        self._raise([])

    cdef int _raise(self, list events) except -1:
        error = RemoteProtocolError(
            self.err_msg, condition=CONDITIONS[self.err_cond], offset=self.err_off, events=events
        )
        self.error = error
        # Nothing will be parsed before reset(): give the buffer back.
        self._drop_buffer()
        raise error

    cdef void _drop_buffer(self) noexcept:
        cdef void* other = NULL
        self.base += self.blen
        if self.cap == MIN_CAPACITY:
            other = xw_swap_spare(self.buf)
            PyMem_Free(other)
        else:
            PyMem_Free(self.buf)
        self.buf = NULL
        self.cap = 0
        self.blen = 0
        self.pos = 0

    cdef inline int _fail(self, int cond, long long offset, str msg) noexcept:
        self.err_cond = cond
        self.err_off = offset
        self.err_msg = msg
        return R_ERR

    cdef int _append(self, const unsigned char* data, Py_ssize_t n) except -1:
        cdef Py_ssize_t keep, need, newcap
        cdef long long bound
        cdef unsigned char* nbuf
        self.received += n
        if self.level:
            keep = <Py_ssize_t>(self.elem_start - self.base)
        else:
            keep = self.pos
        if keep == self.blen:
            # Nothing held: start over at the front for free.
            self.base += keep
            self.blen = 0
            self.pos = 0
            keep = 0
        need = self.blen + n
        if self.buf == NULL and need <= MIN_CAPACITY:
            self.buf = <unsigned char*>xw_swap_spare(NULL)
            if self.buf != NULL:
                self.cap = MIN_CAPACITY
        if self.cap > 2 * MIN_CAPACITY and (need - keep) * 4 < self.cap:
            # A large element is gone: give its room back now.
            if keep > 0:
                memmove(self.buf, self.buf + keep, self.blen - keep)
                self.blen -= keep
                self.pos -= keep
                self.base += keep
                need = self.blen + n
                keep = 0
            newcap = MIN_CAPACITY
            while newcap < 2 * need:
                newcap *= 2
            nbuf = <unsigned char*>PyMem_Realloc(self.buf, newcap + SLACK)
            if nbuf != NULL:
                self.buf = nbuf
                self.cap = newcap
        if need > self.cap:
            if keep > 0:
                memmove(self.buf, self.buf + keep, self.blen - keep)
                self.blen -= keep
                self.pos -= keep
                self.base += keep
                need = self.blen + n
            if need > self.cap:
                newcap = self.cap * 2 if self.cap else MIN_CAPACITY
                while newcap < need:
                    newcap *= 2
                # Never much more than the largest token the limits allow plus this chunk.
                bound = (self.max_stanza if self.max_stanza > self.max_header
                         else self.max_header) + n + 64
                if newcap > bound:
                    newcap = need if need > bound else <Py_ssize_t>bound
                nbuf = <unsigned char*>PyMem_Realloc(self.buf, newcap + SLACK)
                if nbuf == NULL:
                    raise MemoryError()
                self.buf = nbuf
                self.cap = newcap
        memcpy(self.buf + self.blen, data, n)
        self.blen += n
        self.buf[self.blen] = 0
        return 0

    cdef object _intern(self, Py_ssize_t start, Py_ssize_t n):
        """The str of buf[start:start+n] (valid UTF-8), from a small cache for short ones."""
        cdef const unsigned char* s = self.buf + start
        cdef uint32_t h
        cdef Py_ssize_t k
        cdef PyObject* key
        if n > CACHE_MAX or n == 0:
            return PyUnicode_DecodeUTF8(<const char*>s, n, NULL)
        if self.cache == NULL:
            self.cache = <PyObject**>PyMem_Calloc(CACHE_SLOTS, sizeof(PyObject*))
            if self.cache == NULL:
                raise MemoryError()
        # A collision costs only a miss: length and a few bytes are enough.
        h = <uint32_t>n * 0x9E3779B1u ^ s[0] * 0x85EBCA6Bu ^ s[n - 1] * 0xC2B2AE35u \
            ^ s[n >> 1] * 0x27D4EB2Fu ^ s[(n * 3) >> 2]
        k = (h ^ (h >> 15)) & (CACHE_SLOTS - 1)
        # Only ASCII names are kept, so that a kept str's characters are its bytes.
        key = self.cache[k]
        if (key != NULL and PyUnicode_GET_LENGTH(<object>key) == n
                and _same(<const unsigned char*>PyUnicode_DATA(<object>key), s, n)):
            return <object>key
        value = PyUnicode_DecodeUTF8(<const char*>s, n, NULL)
        if PyUnicode_IS_ASCII(value):
            Py_XDECREF(self.cache[k])
            Py_INCREF(value)
            self.cache[k] = <PyObject*>value
        return value

    cdef inline str _str(self, Py_ssize_t start, Py_ssize_t end):
        return PyUnicode_DecodeUTF8(<const char*>self.buf + start, end - start, NULL)

    # -- the main loop -----------------------------------------------------------------------

    cdef int _run(self, list events) except -1:
        cdef int r
        while True:
            if self.state == S_ROOT:
                if self.level:
                    r = self._element(events)
                else:
                    r = self._root(events)
            elif self.state == S_PROLOG:
                r = self._prolog(events)
            else:
                r = self._closed()
            if r != R_OK:
                return r

    cdef int _closed(self) noexcept:
        cdef const unsigned char* p = self.buf
        cdef Py_ssize_t i = self.pos, n = self.blen
        cdef unsigned char c
        while i < n and (xw_cc[p[i]] & CC_WS):
            i += 1
        self.pos = i
        if i < n:
            c = p[i]
            if _cannot_begin_utf8(c):
                return self._fail(C_ENCODING, self.base + i, "a byte that is not UTF-8")
            return self._fail(C_NWF, self.base + i, "content after the end of the stream")
        return R_NEED

    # -- before the root ---------------------------------------------------------------------

    cdef int _prolog(self, list events) except -1:
        cdef const unsigned char* p = self.buf
        cdef Py_ssize_t i = self.pos, n = self.blen, over, end, k
        cdef unsigned char c
        cdef int r
        # over: the index of the first byte beyond max_header_bytes
        if self.max_header - self.base <= n:
            over = <Py_ssize_t>(self.max_header - self.base)
        else:
            over = n + 1
        end = n if n < over else over
        while True:
            if self.pend == P_DECL:
                r = self._decl(end)
                if r == R_NEED:
                    return self._need_header(over)
                if r != R_OK:
                    return r
                i = self.pos
                continue
            if i >= end:
                return self._need_header(over)
            c = p[i]
            if xw_cc[c] & CC_WS:
                i += 1
                while i < end and (xw_cc[p[i]] & CC_WS):
                    i += 1
                self.pos = i
                continue
            self.prolog_content = True
            if c == 0 and self.base + i == 0:
                # '\0<': the stream opens in UTF-16 (big-endian) without a byte-order mark.
                return self._fail(C_ENCODING, 0, "UTF-16, not UTF-8")
            if c != 60:
                if _cannot_begin_utf8(c):
                    return self._fail(C_ENCODING, self.base + i, "a byte that is not UTF-8")
                return self._fail(C_NWF, self.base + i, "content before the stream header")
            if i + 1 >= end:
                return self._need_header(over)
            c = p[i + 1]
            if c == 0 and self.base + i == 0:
                # '<\0': UTF-16 (little-endian) without a byte-order mark.
                return self._fail(C_ENCODING, 0, "UTF-16, not UTF-8")
            if c == 63:  # <?
                k = self._pi_run(i, end)
                if k < 0:
                    return self._need_header(over)
                if (self.base + i == 0 and k - i == 5 and memcmp(p + i + 2, b"xml", 3) == 0
                        and (xw_cc[p[k]] & CC_WS)):
                    # The XML declaration.
                    self.pend = P_DECL
                    self.scan = self.base + i + 6
                    continue
                return self._pi(i, end)
            if c == 33:  # <!
                r = self._bang(i, end)
                if r == R_NEED:
                    return self._need_header(over)
                if r == R_OK:
                    # A CDATA opener before the root.
                    return self._judge_markup(i, i + 9, C_NWF,
                                              "CDATA section outside the root element")
                return r
            if c == 47:  # </
                r = self._etag(i, end)
                if r == R_NEED:
                    return self._need_header(over)
                if r == R_OK:
                    return self._fail(C_NWF, self.base + i, "end tag outside the root element")
                return r
            r = self._stag(i, end, W_ROOT)
            if r == R_NEED:
                return self._need_header(over)
            if r != R_OK:
                return r
            return self._open_stream(i, events)

    cdef int _need_header(self, Py_ssize_t over) noexcept:
        if self.blen > over:
            return self._fail(C_POLICY, self.max_header,
                              "stream header longer than max_header_bytes")
        return R_NEED

    cdef int _decl(self, Py_ssize_t end) except -1:
        """The XML declaration at offset 0, up to the first '?>'."""
        cdef const unsigned char* p = self.buf
        cdef Py_ssize_t i = <Py_ssize_t>(self.scan - self.base), k
        cdef Py_ssize_t lt = <Py_ssize_t>(0 - self.base)
        while i + 1 < end:
            q = <const unsigned char*>memchr(p + i, 63, end - i - 1)
            if q == NULL:
                break
            k = q - p
            if p[k + 1] == 62:
                self.pend = P_NONE
                self.pos = k + 2
                return self._judge_decl(lt, k + 2)
            i = k + 1
        self.scan = self.base + (end - 1 if end - 1 > i else i)
        return R_NEED

    cdef int _judge_decl(self, Py_ssize_t lt, Py_ssize_t end) except -1:
        cdef Py_ssize_t bad = _utf8_error(self.buf, lt, end)
        if bad >= 0:
            return self._fail(C_ENCODING, self.base + bad, "bytes that are not UTF-8")
        text = self._str(lt, end)
        cond = _check_decl(text)
        if cond is None:
            return R_OK
        return self._fail(cond[0], 0, cond[1])

    cdef int _open_stream(self, Py_ssize_t lt, list events) except -1:
        """The root start tag is syntactically good: namespaces, header rules, events."""
        cdef Py_ssize_t k
        cdef Attr* a
        cdef int r
        cdef long long offset = self.base + lt
        r = self._namespaces(lt, W_ROOT)
        if r != R_OK:
            return r
        own = self._own
        if self.t_colon >= 0:
            local = self._str(self.t_colon + 1, self.t_name + self.t_nlen)
            prefix = self._str(self.t_name, self.t_colon)
        else:
            local = self._str(self.t_name, self.t_name + self.t_nlen)
            prefix = None
        if local != "stream" or self.t_ns != STREAMS_NS:
            return self._fail(C_INVALID_NS, offset,
                              f"the root is {{{self.t_ns}}}{local}, not a stream")
        attributes = []
        for k in range(self.nattrs):
            a = &self.attrs[k]
            if a.kind == A_XMLNS or a.kind == A_XMLNS_P:
                continue
            if a.colon >= 0:
                aprefix = self._str(a.name, a.colon)
                uri = XML_NS if aprefix == "xml" else own[aprefix]
                key = f"{{{uri}}}{self._str(a.colon + 1, a.name + a.nlen)}"
            else:
                key = self._str(a.name, a.name + a.nlen)
            attributes.append((key, self._value(a)))
        found = dict(attributes)
        version = None
        if "version" in found:
            match = VERSION_RE.fullmatch(found["version"])
            if match is None or any(len(part.lstrip("0")) > 9 for part in match.groups()):
                return self._fail(C_VERSION, offset, f"bad stream version {found['version']!r}")
            version = (int(match.group(1)), int(match.group(2)))
        header = StreamHeader(
            to=found.get("to"),
            from_=found.get("from"),
            id=found.get("id"),
            version=version,
            lang=found.get(XML_LANG),
            content_namespace=own.get(None) if own else None,
            stream_prefix=prefix,
            namespaces=tuple(own.items()) if own else (),
            attributes=tuple(attributes),
            raw=PyBytes_FromStringAndSize(<const char*>self.buf + lt, self.t_end - lt),
        )
        self._header = header
        self.header_scope = dict(own) if own else {}
        self.default_ns = self.header_scope.get(None, "")
        self.root_name = PyBytes_FromStringAndSize(<const char*>self.buf + self.t_name,
                                                   self.t_nlen)
        events.append(StreamOpened(header=header))
        self.pos = self.t_end
        if self.t_empty:
            events.append(StreamClosed())
            self.state = S_CLOSED
        else:
            self.state = S_ROOT
        return R_OK

    # -- depth 1 -----------------------------------------------------------------------------

    cdef int _root(self, list events) except -1:
        cdef const unsigned char* p = self.buf
        cdef Py_ssize_t i = self.pos, n = self.blen, j, lim, end, lt
        cdef unsigned char c
        cdef int r
        while True:
            if self.pend == P_TEXT:
                # Depth-1 character data; its '<' may sit at i + max_stanza.
                lim = self._limit_index(i)
                end = n if n <= lim else lim + 1
                lt = self._text(end)
                if lt == -1:
                    if n > lim:
                        return self._fail(C_POLICY, self.base + i + self.max_stanza,
                                          "text longer than max_stanza_bytes")
                    return R_NEED
                if lt < 0:
                    return R_ERR
                events.append(_raw_event(TX_TYPE, TX_OFFSETS,
                                         PyBytes_FromStringAndSize(<const char*>p + i, lt - i)))
                i = self.pos = lt
                continue
            if i >= n:
                return R_NEED
            c = p[i]
            if xw_cc[c] & CC_WS:
                # (The NUL after the data ends the run.)
                j = i + 1 + xw_ws_run(p + i + 1)
                xw_list_add(events, self._whitespace_event(i, j))
                i = self.pos = j
                continue
            if c != 60:
                self.pend = P_TEXT
                self.scan = self.base + i
                self.tbad = False
                continue
            if i + 1 >= n:
                return R_NEED
            c = p[i + 1]
            lim = self._limit_index(i)
            end = n if n <= lim else lim
            if c == 47:  # the root's end tag
                r = self._etag(i, end)
                if r == R_NEED:
                    return self._need_token(i, lim)
                if r != R_OK:
                    return r
                if (self.t_nlen != PyBytes_GET_SIZE(self.root_name)
                        or memcmp(p + self.t_name, PyBytes_AS_STRING(self.root_name),
                                  self.t_nlen) != 0):
                    return self._fail(C_NWF, self.base + i, "end tag does not close the root")
                events.append(StreamClosed())
                self.state = S_CLOSED
                self.pos = self.t_end
                return R_OK
            if c == 33:  # <!
                r = self._bang(i, end)
                if r == R_OK:
                    r = self._cdata(i, end)
                    if r == R_OK:
                        events.append(_raw_event(
                            TX_TYPE, TX_OFFSETS,
                            PyBytes_FromStringAndSize(<const char*>p + i, self.t_end - i)))
                        i = self.pos = self.t_end
                        continue
                if r == R_NEED:
                    return self._need_token(i, lim)
                return r
            if c == 63:  # <?
                r = self._pi(i, end)
                if r == R_NEED:
                    return self._need_token(i, lim)
                return r
            # A top-level element begins.
            self.elem_start = self.base + i
            # _stag's steps, written out: the compiler does not inline it here.
            if self.pend == P_STAG and not self._track_quotes(end):
                r = R_NEED
            else:
                r = self._stag_strict(i, end)
                if r == R_OK:
                    self.pend = P_NONE
                    r = self._top_names(i)
                else:
                    r = self._stag_judge(i, end, r)
            if r == R_NEED:
                return self._need_element(i, lim)
            if r != R_OK:
                return r
            if self.t_empty:
                return self._emit(i, events)
            self._push(0)
            self.level = 1
            self.pos = self.t_end
            # Straight on into the element, rather than through _run's loop.
            return self._element(events)

    cdef inline object _whitespace_event(self, Py_ssize_t start, Py_ssize_t end):
        """The event for the whitespace p[start:end] between top-level elements.

        Mostly the same newline between each two stanzas: the event, immutable,
        is made once and handed out again for the same bytes, rather than one
        new object per stanza. Only short runs are kept, so that an idle parser
        holds no large one.
        """
        cdef bytes raw = self.ws_raw
        cdef Py_ssize_t n = end - start
        if (raw is not None and PyBytes_GET_SIZE(raw) == n
                and memcmp(PyBytes_AS_STRING(raw), self.buf + start, n) == 0):
            return self.ws_event
        raw = PyBytes_FromStringAndSize(<const char*>self.buf + start, n)
        event = _raw_event(WS_TYPE, WS_OFFSETS, raw)
        if n <= WS_KEEP:
            self.ws_raw = raw
            self.ws_event = event
        return event

    cdef inline Py_ssize_t _limit_index(self, Py_ssize_t start) noexcept:
        cdef long long lim = start + self.max_stanza
        if lim > self.blen:
            return self.blen + 1
        return <Py_ssize_t>lim

    cdef int _need_element(self, Py_ssize_t start, Py_ssize_t lim) noexcept:
        if self.blen > lim:
            return self._fail(C_POLICY, self.base + start + self.max_stanza,
                              "element longer than max_stanza_bytes")
        return R_NEED

    cdef int _need_token(self, Py_ssize_t start, Py_ssize_t lim) noexcept:
        # An end tag, CDATA section or PI at depth 1: a token, not an element.
        if self.blen > lim:
            return self._fail(C_POLICY, self.base + start + self.max_stanza,
                              "token longer than max_stanza_bytes")
        return R_NEED

    cdef inline int _emit(self, Py_ssize_t start, list events) except -1:
        cdef Py_ssize_t end = self.t_end
        xw_list_add(events, _element_event(
            <PyObject*>self.cur_ns, <PyObject*>self.cur_name,
            PyBytes_FromStringAndSize(<const char*>self.buf + start, end - start),
            <PyObject*>self._header))
        self.level = 0
        self.pos = end
        if self.pause_names is not None:
            return self._pause_at(end)
        return R_OK

    cdef int _pause_at(self, Py_ssize_t end) except -1:
        """Pause after the element just emitted if pause_after names it."""
        ns = self.cur_ns
        name = self.cur_name
        if name in self.pause_names and (ns, name) in self._pause_after:
            self._paused = True
            self.unparsed = PyBytes_FromStringAndSize(<const char*>self.buf + end, self.blen - end)
            self.received -= self.blen - end
            self.blen = end
            self.buf[end] = 0
            return R_STOP
        return R_OK

    cdef inline int _push(self, Py_ssize_t level) except -1:
        if level >= self.st_cap:
            self._grow_stack()
        self.st_off[level] = self.t_name - <Py_ssize_t>(self.elem_start - self.base)
        self.st_len[level] = self.t_nlen
        return 0

    cdef int _grow_stack(self) except -1:
        # Apart from _push so that _push stays small enough to be inlined.
        cdef Py_ssize_t newcap = self.st_cap * 2 if self.st_cap else 8
        cdef Py_ssize_t* a
        cdef Py_ssize_t* b
        a = <Py_ssize_t*>PyMem_Realloc(self.st_off, newcap * sizeof(Py_ssize_t))
        if a == NULL:
            raise MemoryError()
        self.st_off = a
        b = <Py_ssize_t*>PyMem_Realloc(self.st_len, newcap * sizeof(Py_ssize_t))
        if b == NULL:
            raise MemoryError()
        self.st_len = b
        self.st_cap = newcap
        return 0

    # -- inside a top-level element ----------------------------------------------------------

    cdef int _element(self, list events) except -1:
        cdef const unsigned char* p = self.buf
        cdef Py_ssize_t es = <Py_ssize_t>(self.elem_start - self.base)
        cdef Py_ssize_t n = self.blen, lim, end, i, lt, top, k, after, m
        cdef unsigned char c
        cdef uint32_t cp
        cdef unsigned int bits
        cdef int r
        cdef bint sweep
        lim = self._limit_index(es)
        end = n if n <= lim else lim
        while True:
            i = self.pos
            if self.pend == P_NONE and (p[i] != 60 or i >= end):
                # Plain text up to a '<' in one sweep; anything else goes the exact way.
                k = i
                sweep = True
                if p[k] == 10:
                    # Indentation before a child or an end tag, newline and a run
                    # of spaces or tabs: often no sweep at all.
                    k += 1 + xw_indent(p + k + 1)
                    sweep = p[k] != 60
                if sweep:
                    while True:
                        bits = xw_special16(p + k, 93)
                        if bits == 0:
                            k += 16
                            continue
                        k += xw_ctz32(bits)
                        c = p[k]
                        if not (xw_cc[c] & CC_TEXT):
                            k += 1
                            continue
                        if k >= end:
                            break
                        if c == 60:
                            break
                        if c == 38:
                            if _reference(p, k, end, &after) != REF_OK:
                                break
                            k = after
                        elif c >= 0x80:
                            r = utf8_decode(p, k, end, &cp)
                            if r <= 0 or cp == 0xFFFE or cp == 0xFFFF:
                                break
                            k += r
                        elif c == 93 and p[k + 1] != 93 and k + 1 < end:
                            k += 1
                        else:
                            break
                if k < end and p[k] == 60:
                    i = self.pos = k
                else:
                    # (A '<' at or past `end` is text's to wait for, too.)
                    self.pend = P_TEXT
                    self.scan = self.base + (k if k < end else end)
                    self.tbad = False
            if self.pend == P_TEXT:
                lt = self._text(end)
                if lt == -1:
                    return self._need_element(es, lim)
                if lt < 0:
                    return R_ERR
                i = self.pos = lt
            # markup at i
            if i + 1 >= end:
                return self._need_element(es, lim)
            c = p[i + 1]
            if c == 47:  # </
                top = self.level - 1
                m = self.st_len[top]
                k = i + 2 + m
                if (self.pend == P_NONE and k < end and p[k] == 62
                        and _same(p + i + 2, p + es + self.st_off[top], m)):
                    # The open element's name right after '</' and then '>'.
                    self.t_end = k + 1
                else:
                    r = self._etag(i, end)
                    if r != R_OK:
                        if r == R_NEED:
                            return self._need_element(es, lim)
                        return r
                    if (self.t_nlen != m
                            or memcmp(p + self.t_name, p + es + self.st_off[top], m) != 0):
                        return self._fail(C_NWF, self.base + i, "end tag does not match")
                if self.scopes and (<tuple>self.scopes[len(self.scopes) - 1])[0] == self.level:
                    self.scopes.pop()
                self.level -= 1
                self.pos = self.t_end
                if self.level == 0:
                    return self._emit(es, events)
            elif c == 33:  # <!
                r = self._bang(i, end)
                if r == R_OK:
                    r = self._cdata(i, end)
                    if r == R_OK:
                        self.pos = self.t_end
                        continue
                if r == R_NEED:
                    return self._need_element(es, lim)
                return r
            elif c == 63:  # <?
                r = self._pi(i, end)
                if r == R_NEED:
                    return self._need_element(es, lim)
                return r
            else:
                r = self._stag(i, end, W_NESTED)
                if r != R_OK:
                    if r == R_NEED:
                        return self._need_element(es, lim)
                    return r
                self.pos = self.t_end
                if not self.t_empty:
                    self._push(self.level)
                    self.level += 1

    # -- text ---------------------------------------------------------------------------------

    cdef Py_ssize_t _text(self, Py_ssize_t end) except -3:
        """Scan the text token at pos: index of its '<', -1 if incomplete, -2 on error.

        The fast scan stops at anything unusual; the token is then judged
        exactly once its '<' is there.
        """
        cdef const unsigned char* p = self.buf
        cdef Py_ssize_t i = <Py_ssize_t>(self.scan - self.base), start = self.pos, after
        cdef const unsigned char* q
        cdef unsigned char c
        cdef uint32_t cp
        cdef int r
        cdef unsigned int bits
        if not self.tbad:
            while True:
                # Jump to the next byte that may matter; the NUL after the
                # data stops this, and whatever lies at or past `end` waits.
                bits = xw_special16(p + i, 93)
                if bits == 0:
                    i += 16
                    if i < end:
                        continue
                else:
                    i += xw_ctz32(bits)
                if i >= end:
                    self.scan = self.base + end
                    return -1
                c = p[i]
                if not (xw_cc[c] & CC_TEXT):
                    i += 1
                    continue
                if c == 60:
                    self.pend = P_NONE
                    return i
                if c >= 0x80:
                    r = utf8_decode(p, i, end, &cp)
                    if r > 0:
                        if cp == 0xFFFE or cp == 0xFFFF:
                            break
                        i += r
                        continue
                    if r == 0:
                        self.scan = self.base + i
                        return -1
                    break
                if c == 38:  # &
                    r = _reference(p, i, end, &after)
                    if r == REF_OK:
                        i = after
                        continue
                    if r == REF_NEED and end - i < 48:
                        self.scan = self.base + i
                        return -1
                    break
                if c == 93:  # ]
                    if i + 1 < end and p[i + 1] != 93:
                        i += 1
                        continue
                    if i + 2 >= end:
                        self.scan = self.base + i
                        return -1
                    if p[i + 1] == 93 and p[i + 2] == 62:
                        break
                    i += 1
                    continue
                break  # an illegal control character
            self.tbad = True
        q = <const unsigned char*>memchr(p + i, 60, end - i)
        if q == NULL:
            self.scan = self.base + end
            return -1
        i = q - p
        r = self._judge_text(start, i)
        if r != R_OK:
            return -2
        self.pend = P_NONE
        self.tbad = False
        return i

    cdef int _judge_text(self, Py_ssize_t start, Py_ssize_t end) noexcept:
        cdef const unsigned char* p = self.buf
        cdef Py_ssize_t i, after
        cdef uint32_t cp
        cdef int r
        cdef unsigned char c
        i = _utf8_error(p, start, end)
        if i >= 0:
            return self._fail(C_ENCODING, self.base + i, "bytes that are not UTF-8")
        i = start
        while i < end:
            c = p[i]
            if not (xw_cc[c] & CC_TEXT):
                i += 1
                continue
            if c >= 0x80:
                r = utf8_decode(p, i, end, &cp)
                if cp == 0xFFFE or cp == 0xFFFF:
                    return self._fail(C_NWF, self.base + i, f"illegal character {cp:#x}")
                i += r
            elif c == 38:
                r = _reference(p, i, end, &after)
                if r == REF_OK:
                    i = after
                elif r == REF_RESTRICTED:
                    return self._fail(C_RESTRICTED, self.base + i,
                                      "reference to an undefined entity")
                else:
                    return self._fail(C_NWF, self.base + i, "bad reference")
            elif c == 93:
                if i + 2 < end and p[i + 1] == 93 and p[i + 2] == 62:
                    return self._fail(C_NWF, self.base + i, "']]>' in character data")
                i += 1
            else:
                return self._fail(C_NWF, self.base + i, f"illegal character {c:#x}")
        return R_OK

    # -- <! and <? -----------------------------------------------------------------------------

    cdef int _bang(self, Py_ssize_t lt, Py_ssize_t end) noexcept:
        """`<!` at lt: R_OK for a complete CDATA opener, else NEED or an error."""
        cdef const unsigned char* p = self.buf
        cdef const char* opener
        cdef Py_ssize_t olen, k
        cdef unsigned char c
        if lt + 2 >= end:
            return R_NEED
        c = p[lt + 2]
        if c == 45:
            opener = b"<!--"
            olen = 4
        elif c == 68:
            opener = b"<!DOCTYPE"
            olen = 9
        elif c == 91:
            opener = b"<![CDATA["
            olen = 9
        else:
            return self._judge_markup(lt, lt + 3, C_NWF,
                                      "'<!' that begins no comment, CDATA section or DOCTYPE")
        for k in range(3, olen):
            if lt + k >= end:
                return R_NEED
            if p[lt + k] != <unsigned char>opener[k]:
                return self._judge_markup(
                    lt, lt + k + 1, C_NWF,
                    "'<!' that begins no comment, CDATA section or DOCTYPE")
        if olen == 4:
            return self._judge_markup(lt, lt + 4, C_RESTRICTED, "comment")
        if c == 68:
            return self._judge_markup(lt, lt + 9, C_RESTRICTED, "document type declaration")
        return R_OK

    cdef int _cdata(self, Py_ssize_t lt, Py_ssize_t end) noexcept:
        """The CDATA section at lt, its opener complete: R_OK with t_end set."""
        cdef const unsigned char* p = self.buf
        cdef Py_ssize_t i, k, bad
        cdef const unsigned char* q
        cdef uint32_t cp
        cdef int r
        cdef unsigned char c
        if self.pend == P_CDATA:
            i = <Py_ssize_t>(self.scan - self.base)
        else:
            i = lt + 9
        while True:
            q = <const unsigned char*>memchr(p + i, 93, end - i) if i < end else NULL
            if q == NULL:
                self.pend = P_CDATA
                self.scan = self.base + (end - 2 if end - 2 > lt + 9 else lt + 9)
                return R_NEED
            k = q - p
            if k + 2 >= end:
                self.pend = P_CDATA
                self.scan = self.base + k
                return R_NEED
            if p[k + 1] == 93 and p[k + 2] == 62:
                break
            i = k + 1
        self.pend = P_NONE
        self.t_end = k + 3
        bad = _utf8_error(p, lt, k + 3)
        if bad >= 0:
            return self._fail(C_ENCODING, self.base + bad, "bytes that are not UTF-8")
        i = lt + 9
        while i < k:
            c = p[i]
            if c >= 0x80:
                r = utf8_decode(p, i, k, &cp)
                if cp == 0xFFFE or cp == 0xFFFF:
                    return self._fail(C_NWF, self.base + i, "illegal character in CDATA")
                i += r
            elif xw_cc[c] & CC_ILLEGAL:
                return self._fail(C_NWF, self.base + i, "illegal character in CDATA")
            else:
                i += 1
        return R_OK

    cdef Py_ssize_t _pi_run(self, Py_ssize_t lt, Py_ssize_t end) noexcept:
        """The end of the target run after `<?` at lt, or -1 while the data ends in it.

        The scan resumes where it stopped, so a long run fed byte by byte stays linear.
        """
        cdef const unsigned char* p = self.buf
        cdef Py_ssize_t k = <Py_ssize_t>(self.scan - self.base) if self.pend == P_PI else lt + 2
        while k < end and (p[k] >= 0x80 or (xw_cc[p[k]] & CC_NAME) or p[k] == 58):
            k += 1
        if k >= end:
            self.pend = P_PI
            self.scan = self.base + k
            return -1
        self.pend = P_NONE
        return k

    cdef int _pi(self, Py_ssize_t lt, Py_ssize_t end) except -1:
        """`<?` at lt (never the XML declaration here): always an error once complete."""
        cdef const unsigned char* p = self.buf
        cdef Py_ssize_t k = self._pi_run(lt, end), bad
        if k < 0:
            return R_NEED
        bad = _utf8_error(p, lt, k + 1)
        if bad >= 0:
            return self._fail(C_ENCODING, self.base + bad, "bytes that are not UTF-8")
        target = self._str(lt + 2, k)
        if not _is_name(target):
            return self._fail(C_NWF, self.base + lt, "'<?' not followed by a name")
        if target == "xml":
            return self._fail(C_NWF, self.base + lt,
                              "an XML declaration not at the start of the stream")
        return self._fail(C_RESTRICTED, self.base + lt, "processing instruction")

    cdef int _judge_markup(self, Py_ssize_t lt, Py_ssize_t end, int cond, str msg) noexcept:
        """A complete markup token in error: UTF-8 first, then its own error at its '<'."""
        cdef Py_ssize_t bad = _utf8_error(self.buf, lt, end)
        if bad >= 0:
            return self._fail(C_ENCODING, self.base + bad, "bytes that are not UTF-8")
        return self._fail(cond, self.base + lt, msg)

    # -- tags ---------------------------------------------------------------------------------

    cdef inline Py_ssize_t _qname(self, Py_ssize_t i, Py_ssize_t end) noexcept:
        """The name run at i: its end; -1 if the data ends in it, -2 if it is no QName.

        The run is every NameChar, colon included; t_colon receives the index
        of its colon, or -1.
        """
        cdef const unsigned char* p = self.buf
        cdef Py_ssize_t colon = -1
        cdef unsigned char c
        cdef uint32_t cp
        cdef int r
        cdef bint bad = False, part_start = True
        while True:
            if i >= end:
                return -1
            c = p[i]
            if c < 0x80:
                if xw_cc[c] & CC_NAME:
                    if part_start and not (xw_cc[c] & CC_NAMESTART):
                        bad = True
                    part_start = False
                    i += 1
                    while i < end and (xw_cc[p[i]] & CC_NAME):
                        i += 1
                    continue
                if c == 58:
                    if part_start or colon >= 0:
                        bad = True
                    colon = i
                    part_start = True
                    i += 1
                    continue
                break
            r = utf8_decode(p, i, end, &cp)
            if r == 0:
                return -1
            if r < 0:
                return -2
            if not is_name_char(cp):
                break
            if part_start and not is_name_start(cp):
                bad = True
            part_start = False
            i += r
        if bad or part_start:
            # Empty, a part not starting with a NameStartChar, two colons, or a trailing one.
            return -2
        self.t_colon = colon
        return i

    cdef int _etag(self, Py_ssize_t lt, Py_ssize_t end) noexcept:
        """`</` at lt: R_OK with t_name, t_nlen, t_end; NEED; or an error."""
        cdef const unsigned char* p = self.buf
        cdef Py_ssize_t i, j
        cdef const unsigned char* q
        if self.pend == P_ETAG:
            i = <Py_ssize_t>(self.scan - self.base)
            q = <const unsigned char*>memchr(p + i, 62, end - i) if i < end else NULL
            if q == NULL:
                self.scan = self.base + end
                return R_NEED
            self.pend = P_NONE
            j = q - p
            return self._etag_strict(lt, j + 1)
        q = <const unsigned char*>memchr(p + lt + 2, 62, end - lt - 2) if lt + 2 < end else NULL
        if q == NULL:
            self.pend = P_ETAG
            self.scan = self.base + end
            return R_NEED
        return self._etag_strict(lt, q - p + 1)

    cdef int _etag_strict(self, Py_ssize_t lt, Py_ssize_t tend) noexcept:
        cdef const unsigned char* p = self.buf
        cdef Py_ssize_t j = self._qname(lt + 2, tend), k
        if j >= 0:
            k = _skip_ws(p, j)
            if k == tend - 1:
                self.t_name = lt + 2
                self.t_nlen = j - lt - 2
                self.t_end = tend
                return R_OK
        return self._judge_markup(lt, tend, C_NWF, "bad end tag")

    cdef inline int _stag(self, Py_ssize_t lt, Py_ssize_t end, int where) except -1:
        """A start tag at lt: R_OK with t_* set and all its rules checked; NEED; or an error.

        Kept small, with the rare paths in functions of their own, so that it
        is inlined where start tags are read. The root (W_ROOT) and nested
        elements (W_NESTED) come here; _root writes out the same steps for
        top-level elements, ending with _top_names.
        """
        cdef int r
        if self.pend == P_STAG:
            if not self._track_quotes(end):
                return R_NEED
        r = self._stag_strict(lt, end)
        if r != R_OK:
            return self._stag_judge(lt, end, r)
        self.pend = P_NONE
        if where == W_NESTED:
            if self.level + 1 > self.max_depth:
                return self._fail(C_POLICY, self.base + lt,
                                  "elements nested deeper than max_depth")
            if self.t_colon < 0 and (self.t_kinds & ~((1 << A_PLAIN) | (1 << A_XML))) == 0:
                return R_OK
            if self.t_colon < 0 and not self.t_impure and \
                    (self.t_kinds & ((1 << A_XMLNS_P) | (1 << A_PREFIXED))) == 0:
                if self.t_reserved:
                    return self._check_default_decls(self.base + lt)
                return R_OK
            return self._namespaces(lt, where)
        return R_OK

    cdef int _stag_judge(self, Py_ssize_t lt, Py_ssize_t end, int r) except -1:
        """The strict pass stopped (r): find the tag's end, then judge the whole tag."""
        cdef long long offset = self.base + lt
        if self.pend != P_STAG:
            self.pend = P_STAG
            self.scan = offset + 1
            self.quote = 0
            if not self._track_quotes(end):
                return R_NEED
        self.pend = P_NONE
        if r == R_NEED:
            self._fail(C_NWF, offset, "bad start tag")
        return self._judge_markup(lt, <Py_ssize_t>(self.tok_end - self.base),
                                  self.err_cond, self.err_msg)

    cdef int _top_names(self, Py_ssize_t lt) except -1:
        """Namespace and name of the top-level element whose start tag was just parsed."""
        cdef int r
        if self.t_colon < 0 and not self.t_impure and \
                (self.t_kinds & ((1 << A_XMLNS_P) | (1 << A_PREFIXED))) == 0:
            if self.t_reserved:
                r = self._check_default_decls(self.base + lt)
                if r != R_OK:
                    return r
            self._set_top_name(self.t_name, self.t_nlen)
            if self.t_kinds & (1 << A_XMLNS):
                self.cur_ns = self._top_default()
            elif self.cur_ns is not self.default_ns:
                self.cur_ns = self.default_ns
            return R_OK
        r = self._namespaces(lt, W_TOP)
        if r != R_OK:
            return r
        self.cur_ns = self.t_ns
        if self.t_colon >= 0:
            self._set_top_name(self.t_colon + 1, self.t_name + self.t_nlen - self.t_colon - 1)
        else:
            self._set_top_name(self.t_name, self.t_nlen)
        return R_OK

    cdef inline int _set_top_name(self, Py_ssize_t start, Py_ssize_t n) except -1:
        """cur_name = the str of buf[start:start+n], a top-level element's local name.

        Most stanzas repeat the name of the one before (a run of messages): that
        one is compared first, and kept without touching a reference count.
        """
        cdef PyObject* name = <PyObject*>self.cur_name
        if (name != <PyObject*>None and PyUnicode_IS_ASCII(<object>name)
                and PyUnicode_GET_LENGTH(<object>name) == n
                and _same(<const unsigned char*>PyUnicode_DATA(<object>name), self.buf + start, n)):
            return 0
        self.cur_name = self._intern(start, n)
        return 0

    cdef object _top_default(self):
        cdef Py_ssize_t k
        cdef Attr* a
        for k in range(self.nattrs):
            a = &self.attrs[k]
            if a.kind == A_XMLNS:
                return self._intern(a.val, a.vlen)
        return self.default_ns

    cdef int _check_default_decls(self, long long offset) noexcept:
        """Plain `xmlns` values: only the two reserved URIs are refused."""
        cdef Py_ssize_t k
        cdef Attr* a
        cdef const unsigned char* p = self.buf
        for k in range(self.nattrs):
            a = &self.attrs[k]
            if a.kind == A_XMLNS:
                # The messages of _namespaces (and of the pure twin) for these URIs.
                if a.vlen == 36 and memcmp(p + a.val, XML_NS_BYTES, 36) == 0:
                    return self._fail(C_NWF, offset,
                                      "the XML namespace bound to a prefix other than 'xml'")
                if a.vlen == 29 and memcmp(p + a.val, XMLNS_NS_BYTES, 29) == 0:
                    return self._fail(C_NWF, offset, "the xmlns namespace cannot be declared")
        return R_OK

    cdef bint _track_quotes(self, Py_ssize_t end) noexcept:
        """Find the end of the start tag being tracked: the first '>' outside quotes."""
        cdef const unsigned char* p = self.buf
        cdef Py_ssize_t i = <Py_ssize_t>(self.scan - self.base)
        cdef int quote = self.quote
        cdef const unsigned char* q
        cdef unsigned char c
        while i < end:
            if quote:
                q = <const unsigned char*>memchr(p + i, quote, end - i)
                if q == NULL:
                    i = end
                    break
                i = q - p + 1
                quote = 0
                continue
            c = p[i]
            if c == 62:
                self.tok_end = self.base + i + 1
                self.quote = 0
                return True
            if c == 34 or c == 39:
                quote = c
            i += 1
        self.scan = self.base + i
        self.quote = quote
        return False

    cdef int _stag_strict(self, Py_ssize_t lt, Py_ssize_t end) except -1:
        """Parse a start tag left to right in one pass: R_OK, R_NEED or R_ERR (at its '<').

        The loops run until the NUL after the data; anything found at or
        beyond `end` means the tag is not complete within it.
        """
        cdef const unsigned char* p = self.buf
        cdef Py_ssize_t i, j, k, an, alen, vs, nattr = 0, after, el_colon, colon
        cdef long long offset = self.base + lt
        cdef unsigned char c, quote
        cdef int r, kinds = 0, kind, plain
        cdef uint32_t cp
        cdef unsigned int bits
        cdef Attr* a
        cdef Attr* b
        # One bit per attribute name seen, picked by its length and last byte: a
        # name whose bit is clear cannot repeat an earlier one, so the pairwise
        # comparison runs only on a (rare) shared bit.
        cdef uint64_t names_seen = 0, name_bit
        cdef uint64_t word
        cdef Py_ssize_t n
        cdef unsigned int slot
        self.t_impure = 0
        self.t_reserved = 0
        i = lt + 1
        # A name met before: the same bytes, then a byte that ends a plain name.
        memcpy(&word, p + i, 8)
        slot = (<uint32_t>word * 0x9E3779B1u) >> 28
        n = self.known_len[slot]
        c = p[i + n]
        if (n and (word & NAME_MASK[n]) == self.known_word[slot]
                and not (xw_cc[c] & CC_NAME) and c != 58 and c < 0x80):
            i += n
            el_colon = -1
            if i >= end:
                return R_NEED
        elif xw_cc[p[i]] & CC_NAMESTART:
            i += 1
            while xw_cc[p[i]] & CC_NAME:
                i += 1
            c = p[i]
            if c == 58 or c >= 0x80:
                i = self._qname(lt + 1, end)
                el_colon = self.t_colon
            else:
                el_colon = -1
                if i >= end:
                    return R_NEED
                n = i - lt - 1
                if n <= 8:
                    self.known_word[slot] = word & NAME_MASK[n]
                    self.known_len[slot] = <unsigned char>n
        else:
            i = self._qname(lt + 1, end)
            el_colon = self.t_colon
        if i < 0:
            if i == -1:
                return R_NEED
            return self._fail(C_NWF, offset, "bad element name")
        self.t_name = lt + 1
        self.t_nlen = i - lt - 1
        if self.t_nlen > self.max_name:
            return self._fail(C_POLICY, offset, "element name longer than max_name_bytes")
        while True:
            j = i
            i = _skip_ws(p, i)
            if i >= end:
                return R_NEED
            c = p[i]
            if c == 62:
                self.t_end = i + 1
                self.t_empty = False
                break
            if c == 47:
                if i + 1 >= end:
                    return R_NEED
                if p[i + 1] == 62:
                    self.t_end = i + 2
                    self.t_empty = True
                    break
                return self._fail(C_NWF, offset, "'/' not followed by '>' in a start tag")
            if i == j:
                return self._fail(C_NWF, offset, "unexpected character in a start tag")
            # an attribute
            an = i
            if xw_cc[c] & CC_NAMESTART:
                i += 1
                while xw_cc[p[i]] & CC_NAME:
                    i += 1
                c = p[i]
                colon = -1
                if c == 58 and xw_cc[p[i + 1]] & CC_NAMESTART:
                    # A prefixed ASCII name (xml:lang, xmlns:stream): its local
                    # part the same way, rather than _qname's byte-by-byte rescan.
                    colon = i
                    i += 2
                    while xw_cc[p[i]] & CC_NAME:
                        i += 1
                    c = p[i]
                if c == 58 or c >= 0x80:
                    i = self._qname(an, end)
                    colon = self.t_colon
                elif i >= end:
                    return R_NEED
            else:
                i = self._qname(an, end)
                colon = self.t_colon
            if i < 0:
                if i == -1:
                    return R_NEED
                return self._fail(C_NWF, offset, "bad attribute name")
            alen = i - an
            if alen > self.max_name:
                return self._fail(C_POLICY, offset, "attribute name longer than max_name_bytes")
            if nattr < DUP_LINEAR:
                name_bit = (<uint64_t>1) << ((p[i - 1] ^ (alen << 2)) & 63)
                if names_seen & name_bit:
                    for k in range(nattr):
                        b = &self.attrs[k]
                        if b.nlen == alen and _same(p + b.name, p + an, alen):
                            return self._fail(C_NWF, offset, "duplicate attribute")
                names_seen |= name_bit
            else:
                r = self._seen_attribute(nattr, an, alen)
                if r < 0:
                    raise MemoryError()
                if r:
                    return self._fail(C_NWF, offset, "duplicate attribute")
            if nattr >= self.max_attrs:
                return self._fail(C_POLICY, offset, "more attributes than max_attributes")
            if nattr >= self.attrs_cap:
                self._grow_attrs()
            # `name='` with nothing between is the common case: no whitespace
            # scan. (i < end here: the name scan stopped before end.)
            if p[i] == 61:
                i += 1
            else:
                i = _skip_ws(p, i)
                if i >= end:
                    return R_NEED
                if p[i] != 61:
                    return self._fail(C_NWF, offset, "attribute without '='")
                i += 1
            # No end check when the quote follows at once: a quote at or past
            # `end` makes the value scan below answer R_NEED.
            quote = p[i]
            if quote != 39 and quote != 34:
                i = _skip_ws(p, i)
                if i >= end:
                    return R_NEED
                quote = p[i]
                if quote != 39 and quote != 34:
                    return self._fail(C_NWF, offset, "unquoted attribute value")
            vs = i + 1
            k = vs
            plain = 1
            while True:
                bits = xw_value16(p + k)
                if bits == 0:
                    k += 16
                    continue
                k += xw_ctz32(bits)
                if k >= end:
                    return R_NEED
                c = p[k]
                if c == quote:
                    break
                if c == 39 or c == 34:
                    # The other quote: part of the value.
                    k += 1
                elif c == 38:
                    plain = 0
                    r = _reference(p, k, end, &after)
                    if r == REF_OK:
                        k = after
                    elif r == REF_NEED:
                        return R_NEED
                    elif r == REF_RESTRICTED:
                        return self._fail(C_RESTRICTED, offset,
                                          "reference to an undefined entity")
                    else:
                        return self._fail(C_NWF, offset, "bad reference in an attribute value")
                elif c >= 0x80:
                    r = utf8_decode(p, k, end, &cp)
                    if r > 0:
                        if cp == 0xFFFE or cp == 0xFFFF:
                            return self._fail(C_NWF, offset,
                                              "illegal character in an attribute value")
                        k += r
                    elif r == 0:
                        return R_NEED
                    else:
                        return self._fail(C_ENCODING, self.base + k, "bytes that are not UTF-8")
                elif xw_cc[c] & CC_WS:
                    plain = 0
                    k += 1
                elif c == 60:
                    return self._fail(C_NWF, offset, "'<' in an attribute value")
                else:
                    return self._fail(C_NWF, offset, "illegal character in an attribute value")
            if k - vs > self.max_value:
                return self._fail(C_POLICY, offset,
                                  "attribute value longer than max_attribute_value_bytes")
            a = &self.attrs[nattr]
            a.name = an
            a.nlen = alen
            a.colon = colon
            a.val = vs
            a.vlen = k - vs
            a.plain = plain
            if colon < 0:
                if alen == 5 and p[an] == 120 and memcmp(p + an, b"xmlns", 5) == 0:
                    kind = A_XMLNS
                    if not plain:
                        self.t_impure = 1
                    if k - vs == 36 or k - vs == 29:
                        # The length of a reserved URI: _check_default_decls looks.
                        self.t_reserved = 1
                else:
                    kind = A_PLAIN
            elif colon == an + 5 and memcmp(p + an, b"xmlns", 5) == 0:
                kind = A_XMLNS_P
                if not plain:
                    self.t_impure = 1
            elif colon == an + 3 and memcmp(p + an, b"xml", 3) == 0:
                kind = A_XML
            else:
                kind = A_PREFIXED
            a.kind = kind
            kinds |= 1 << kind
            nattr += 1
            i = k + 1
        self.t_colon = el_colon
        self.nattrs = nattr
        self.t_kinds = kinds
        return R_OK

    cdef int _seen_attribute(self, Py_ssize_t nattr, Py_ssize_t an, Py_ssize_t alen) noexcept:
        """Whether the tag's first nattr attributes hold the name p[an:an+alen], which
        is then entered as attribute nattr: 1 or 0, -1 without memory.

        A hash table past DUP_LINEAR attributes, so that a tag with many of them
        (max_attributes raised) costs linear time; rebuilt for each such tag.
        """
        cdef const unsigned char* p = self.buf
        cdef Py_ssize_t k, slot, size, mask
        cdef Py_ssize_t* table
        cdef Attr* b
        if nattr == DUP_LINEAR or 2 * (nattr + 1) > self.dup_cap:
            size = self.dup_cap if self.dup_cap else 64
            while 2 * (nattr + 1) > size:
                size *= 2
            if size != self.dup_cap:
                table = <Py_ssize_t*>PyMem_Realloc(self.dup_table, size * sizeof(Py_ssize_t))
                if table == NULL:
                    return -1
                self.dup_table = table
                self.dup_cap = size
            mask = self.dup_cap - 1
            memset(self.dup_table, 0xFF, self.dup_cap * sizeof(Py_ssize_t))
            for k in range(nattr):
                b = &self.attrs[k]
                slot = _name_hash(p + b.name, b.nlen) & mask
                while self.dup_table[slot] >= 0:
                    slot = (slot + 1) & mask
                self.dup_table[slot] = k
        mask = self.dup_cap - 1
        slot = _name_hash(p + an, alen) & mask
        while self.dup_table[slot] >= 0:
            b = &self.attrs[self.dup_table[slot]]
            if b.nlen == alen and _same(p + b.name, p + an, alen):
                return 1
            slot = (slot + 1) & mask
        self.dup_table[slot] = nattr
        return 0

    cdef int _grow_attrs(self) except -1:
        cdef Py_ssize_t newcap = self.attrs_cap * 2 if self.attrs_cap else 8
        cdef Attr* a = <Attr*>PyMem_Realloc(self.attrs, newcap * sizeof(Attr))
        if a == NULL:
            raise MemoryError()
        self.attrs = a
        self.attrs_cap = newcap
        return 0

    # -- namespaces, the general case ---------------------------------------------------------

    cdef str _value(self, Attr* a):
        text = self._str(a.val, a.val + a.vlen)
        if a.plain:
            return text
        return attribute_value(text)

    cdef object _resolve(self, str prefix, dict own, int where):
        if prefix == "xml":
            return XML_NS
        if own is not None and prefix in own:
            return own[prefix]
        for entry in reversed(self.scopes):
            scope = (<tuple>entry)[1]
            if prefix in scope:
                return scope[prefix]
        if where == W_ROOT:
            return None
        return self.header_scope.get(prefix)

    cdef int _namespaces(self, Py_ssize_t lt, int where) except -1:
        """Declarations, prefixes and duplicates of the start tag just parsed."""
        cdef long long offset = self.base + lt
        cdef Py_ssize_t k
        cdef Attr* a
        cdef dict own = None
        for k in range(self.nattrs):
            a = &self.attrs[k]
            if a.kind != A_XMLNS and a.kind != A_XMLNS_P:
                continue
            uri = self._value(a)
            prefix = None
            if a.kind == A_XMLNS_P:
                prefix = self._str(a.colon + 1, a.name + a.nlen)
                if prefix == "xmlns":
                    return self._fail(C_NWF, offset, "the prefix 'xmlns' cannot be declared")
                if not uri:
                    return self._fail(C_NWF, offset, f"the prefix {prefix!r} is declared empty")
            if prefix == "xml":
                if uri != XML_NS:
                    return self._fail(C_NWF, offset,
                                      "the prefix 'xml' bound to another namespace")
            elif uri == XML_NS:
                return self._fail(C_NWF, offset,
                                  "the XML namespace bound to a prefix other than 'xml'")
            if uri == XMLNS_NS:
                return self._fail(C_NWF, offset, "the xmlns namespace cannot be declared")
            if own is None:
                own = {}
            own[prefix] = uri
        if self.t_colon >= 0:
            prefix = self._str(self.t_name, self.t_colon)
            if prefix == "xmlns":
                return self._fail(C_NWF, offset, "an element with the prefix 'xmlns'")
            ns = self._resolve(prefix, own, where)
            if ns is None:
                return self._fail(C_NWF, offset, f"undeclared prefix {prefix!r}")
        elif own is not None and None in own:
            ns = own[None]
        elif where == W_ROOT:
            ns = ""
        else:
            ns = self.default_ns
        keys = None
        for k in range(self.nattrs):
            a = &self.attrs[k]
            if a.kind != A_XML and a.kind != A_PREFIXED:
                continue
            prefix = self._str(a.name, a.colon)
            uri = self._resolve(prefix, own, where)
            if uri is None:
                return self._fail(C_NWF, offset, f"undeclared prefix {prefix!r}")
            key = (uri, self._str(a.colon + 1, a.name + a.nlen))
            if keys is None:
                keys = set()
            if key in keys:
                return self._fail(C_NWF, offset, "duplicate attribute after namespace resolution")
            keys.add(key)
        self._own = own
        self.t_ns = ns
        if where != W_ROOT and own is not None and not self.t_empty:
            self.scopes.append((self.level + 1, own))
        return R_OK


cdef bint _is_name(str text):
    cdef Py_ssize_t k
    cdef Py_UCS4 ch
    if not text:
        return False
    for k, ch in enumerate(text):
        if ch == ':':
            continue
        if k == 0:
            if not is_name_start(ch):
                return False
        elif not is_name_char(ch):
            return False
    return True


_DECL_VERSION = re.compile(r"<\?xml[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*(['\"])")
_DECL_ENCODING = re.compile(r"[ \t\r\n]+encoding[ \t\r\n]*=[ \t\r\n]*(['\"])")
_DECL_STANDALONE = re.compile(r"[ \t\r\n]+standalone[ \t\r\n]*=[ \t\r\n]*(['\"])")
_DECL_END = re.compile(r"[ \t\r\n]*\?>")


cdef object _check_decl(str text):
    """(condition, message) of a bad XML declaration, None when it is good."""
    match = _DECL_VERSION.match(text)
    if match is None:
        return (C_NWF, "bad XML declaration")
    end = text.find(match.group(1), match.end())
    if end < 0:
        return (C_NWF, "bad XML declaration")
    if text[match.end():end] != "1.0":
        return (C_NWF, "XML version other than 1.0")
    j = end + 1
    match = _DECL_ENCODING.match(text, j)
    if match is not None:
        end = text.find(match.group(1), match.end())
        if end < 0 or ENCNAME_RE.fullmatch(text, match.end(), end) is None:
            return (C_NWF, "bad encoding name in the XML declaration")
        if text[match.end():end].lower() != "utf-8":
            return (C_ENCODING, "encoding other than UTF-8")
        j = end + 1
    match = _DECL_STANDALONE.match(text, j)
    if match is not None:
        end = text.find(match.group(1), match.end())
        if end < 0 or text[match.end():end] not in ("yes", "no"):
            return (C_NWF, "bad standalone in the XML declaration")
        j = end + 1
    if _DECL_END.fullmatch(text, j) is None:
        return (C_NWF, "bad XML declaration")
    return None
