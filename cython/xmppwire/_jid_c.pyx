# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled twin of ``_jid_py``: the JID type, its fast paths and its cache.

An all-ASCII JID is split, checked and lowercased here in C, and the JID
object is built here too. A JID with non-ASCII characters is walked here in
C too, against per-code-point tables that ``_jid_tables`` derives from the
same libraries the complete path uses; whatever those tables don't decide,
including every invalid input, goes to the complete PRECIS/IDNA path in
``_jid_rules``, exactly as in the pure-Python twin.

A JID holds its canonical string and the offsets of its two separators; the
parts are sliced from it when asked for. For an ASCII JID already in
canonical form (no uppercase, no trailing dot) the canonical string is the
input itself, so parsing allocates nothing but the JID.
"""

cimport cython
from cpython.pythread cimport (
    PyThread_acquire_lock,
    PyThread_allocate_lock,
    PyThread_release_lock,
    PyThread_type_lock,
    WAIT_LOCK,
)
from libc.stdint cimport uint32_t
from libc.string cimport memcpy

from xmppwire import _jid_py, _jid_rules

cdef extern from *:
    """
    /* dict.get that never holds a borrowed reference, which another thread
       clearing the dict could free on a free-threaded build */
    static PyObject *xmppwire_dict_get(PyObject *d, PyObject *key) {
    #if PY_VERSION_HEX >= 0x030D0000
        PyObject *value = NULL;
        if (PyDict_GetItemRef(d, key, &value) < 0) return NULL;
        if (value == NULL) { Py_INCREF(Py_None); return Py_None; }
        return value;
    #else
        PyObject *value = PyDict_GetItemWithError(d, key);
        if (value == NULL) {
            if (PyErr_Occurred()) return NULL;
            value = Py_None;
        }
        Py_INCREF(value);
        return value;
    #endif
    }
    """
    object xmppwire_dict_get(dict d, object key)

cdef extern from "Python.h":
    bint PyUnicode_IS_ASCII(object text)
    void* PyUnicode_DATA(object text)
    int PyUnicode_KIND(object text)
    int PyUnicode_4BYTE_KIND
    uint32_t PyUnicode_READ(int kind, const void* data, Py_ssize_t index)
    object PyUnicode_FromKindAndData(int kind, const void* buffer, Py_ssize_t size)
    object PyUnicode_New(Py_ssize_t size, Py_UCS4 maxchar)
    object PyUnicode_Substring(object text, Py_ssize_t start, Py_ssize_t end)

__all__ = [
    "DEFAULT_CACHE_SIZE",
    "JID",
    "cache_size",
    "cached_jids",
    "clear_cache",
    "parse_ascii",
    "parse_unicode",
    "set_cache_size",
]

DEFAULT_CACHE_SIZE = _jid_py.DEFAULT_CACHE_SIZE

cdef enum:
    MAX_OCTETS = 1023
    MAX_LABEL = 63
    # character classes, as bits
    LOCAL_OK = 1      # printable ASCII minus space and the eight RFC 7622 exclusions
    RESOURCE_OK = 2   # printable ASCII, space included
    LDH = 4           # letters, digits, hyphen
    UPPER = 8

cdef unsigned char CLASSES[128]


cdef void _fill_classes() noexcept:
    cdef int c
    for c in range(128):
        CLASSES[c] = 0
        if 0x20 <= c <= 0x7E:
            CLASSES[c] |= RESOURCE_OK
        if 0x21 <= c <= 0x7E and c not in b"\"&'/:<>@":
            CLASSES[c] |= LOCAL_OK
        if (0x30 <= c <= 0x39) or (0x61 <= c <= 0x7A) or c == 0x2D:
            CLASSES[c] |= LDH
        if 0x41 <= c <= 0x5A:
            CLASSES[c] |= LDH | UPPER


_fill_classes()

_PyJID = _jid_py.JID
_enforce = _jid_rules.enforce
_enforce_resourcepart = _jid_rules.enforce_resourcepart
_enforce_parts = _jid_rules.enforce_parts
_split = _jid_rules.split


# ---------------------------------------------------------------------------
# The cache, for what the complete path parsed: the ASCII fast path costs about
# what a lookup does (hashing a fresh string included), and the non-ASCII one
# not much more, so their results are not kept. Two generations of fixed
# dicts. New entries go to the young one; when it holds half the size, the
# old one is emptied and becomes the young one. A hit in the old generation
# is copied to the young one, so what is in use survives. Every step is
# O(1), the total stays within the size, and the dicts themselves are never
# freed, so readers need no lock; only the rotation takes one.

cdef dict _generation_a = {}
cdef dict _generation_b = {}
cdef dict _young = _generation_a
cdef dict _old = _generation_b
cdef Py_ssize_t _half = DEFAULT_CACHE_SIZE // 2
cdef Py_ssize_t _maxsize = DEFAULT_CACHE_SIZE
cdef PyThread_type_lock _lock = PyThread_allocate_lock()
if _lock == NULL:
    raise MemoryError("can't allocate the JID cache lock")


cdef inline void _acquire() noexcept:
    # Wait without the GIL: whoever holds the lock may need it to finish.
    with nogil:
        PyThread_acquire_lock(_lock, WAIT_LOCK)


cdef int _rotate() except -1:
    global _young, _old
    cdef dict emptied
    _acquire()
    try:
        if len(_young) >= _half:
            emptied = _old
            emptied.clear()
            _old = _young
            _young = emptied
    finally:
        PyThread_release_lock(_lock)
    return 0


cdef int _cache_put(str key, JID value) except -1:
    if _maxsize <= 0:
        return 0
    if len(_young) >= _half:
        _rotate()
    _young[key] = value
    return 0


cdef inline object _cache_get(str key):
    cdef object found = xmppwire_dict_get(_young, key)
    if found is None and _maxsize > 0:
        found = xmppwire_dict_get(_old, key)
        if found is not None:
            _cache_put(key, <JID>found)
    return found


def set_cache_size(Py_ssize_t maxsize):
    """Keep at most ``maxsize`` parsed JIDs (0 turns the cache off)."""
    global _maxsize, _half
    if maxsize < 0:
        raise ValueError("the cache size can't be negative")
    _acquire()
    try:
        _maxsize = maxsize
        _half = max(maxsize // 2, 1)
        _generation_a.clear()
        _generation_b.clear()
    finally:
        PyThread_release_lock(_lock)


def cache_size():
    """How many parsed JIDs the cache may hold."""
    return _maxsize


def clear_cache():
    """Forget every cached JID, and the domainparts the complete path remembers."""
    _acquire()
    try:
        _generation_a.clear()
        _generation_b.clear()
    finally:
        PyThread_release_lock(_lock)
    _jid_rules.clear_memo()


def cached_jids():
    """The input strings whose parsed JIDs are cached, oldest first."""
    _acquire()
    try:
        return list(_old) + list(_young)
    finally:
        PyThread_release_lock(_lock)


# ---------------------------------------------------------------------------
# The ASCII fast path.

cdef str _lowered(const unsigned char* data, Py_ssize_t domain_end, Py_ssize_t length,
                  bint trailing_dot):
    """The input with its localpart and domainpart lowercased, minus a trailing dot."""
    cdef Py_ssize_t i
    cdef unsigned char c
    cdef unsigned char* out
    result = PyUnicode_New(length - trailing_dot, 127)
    out = <unsigned char*>PyUnicode_DATA(result)
    for i in range(domain_end):
        c = data[i]
        out[i] = c + 32 if CLASSES[c] & UPPER else c
    memcpy(out + domain_end, data + domain_end + trailing_dot,
           length - domain_end - trailing_dot)
    return <str>result


cdef inline bint _nr_ldh_label(const unsigned char* data, Py_ssize_t start, Py_ssize_t end):
    # RFC 5890 §2.3.1 NR-LDH: 1-63 octets, no hyphen first or last, and none in
    # both the third and fourth positions ("xn--" needs the A-label checks)
    cdef Py_ssize_t size = end - start
    return (
        0 < size <= MAX_LABEL
        and data[start] != b"-"
        and data[end - 1] != b"-"
        and not (size >= 4 and data[start + 2] == b"-" and data[start + 3] == b"-")
    )


cdef bint _parse_ascii(str text, JID target) except -1:
    """Fill ``target`` from an all-ASCII valid JID; False leaves it to the complete path."""
    cdef Py_ssize_t length = len(text)
    cdef Py_ssize_t i, at = -1, slash = length
    cdef Py_ssize_t domain_start, domain_end, label_start
    cdef const unsigned char* data
    cdef unsigned char c, flags
    cdef bint local_upper = False, domain_upper = False, trailing_dot = False

    if not PyUnicode_IS_ASCII(text):
        return False
    data = <const unsigned char*>PyUnicode_DATA(text)

    # the separators: the first "/", and the first "@" before it
    for i in range(length):
        c = data[i]
        if c == b"/":
            slash = i
            break
        if c == b"@" and at < 0:
            at = i

    # localpart
    if at >= 0:
        if at == 0 or at > MAX_OCTETS:
            return False
        for i in range(at):
            flags = CLASSES[data[i]]
            if not (flags & LOCAL_OK):
                return False
            local_upper |= flags & UPPER

    # domainpart: one trailing dot goes first, then NR-LDH labels
    domain_start = at + 1
    domain_end = slash
    if domain_end > domain_start and data[domain_end - 1] == b".":
        domain_end -= 1
        trailing_dot = True
    if domain_end == domain_start or domain_end - domain_start > MAX_OCTETS:
        return False
    label_start = domain_start
    for i in range(domain_start, domain_end):
        c = data[i]
        if c == b".":
            if not _nr_ldh_label(data, label_start, i):
                return False
            label_start = i + 1
        else:
            flags = CLASSES[c]
            if not (flags & LDH):
                return False
            domain_upper |= flags & UPPER
    if not _nr_ldh_label(data, label_start, domain_end):
        return False

    # resourcepart: printable ASCII, spaces included
    if slash < length:
        if slash == length - 1 or length - slash - 1 > MAX_OCTETS:
            return False
        for i in range(slash + 1, length):
            if not (CLASSES[data[i]] & RESOURCE_OK):
                return False

    target._at = at
    if local_upper or domain_upper or trailing_dot:
        target._str = _lowered(data, domain_end, length, trailing_dot)
        target._slash = slash - trailing_dot
    else:
        target._str = text
        target._slash = slash
    return True


def parse_ascii(str text):
    """The enforced parts of an all-ASCII valid JID, or ``None`` for the complete path.

    ``None`` never means invalid, only "not decided here".
    """
    cdef JID jid = JID.__new__(JID, _RAW)
    if _parse_ascii(text, jid):
        return (jid.localpart, jid.domainpart, jid.resourcepart)
    return None


cdef inline bint _ascii_resourcepart(str text):
    cdef Py_ssize_t i, length = len(text)
    cdef const unsigned char* data
    if not PyUnicode_IS_ASCII(text) or length == 0 or length > MAX_OCTETS:
        return False
    data = <const unsigned char*>PyUnicode_DATA(text)
    for i in range(length):
        if not (CLASSES[data[i]] & RESOURCE_OK):
            return False
    return True


# ---------------------------------------------------------------------------
# The non-ASCII fast path. Each code point has a 32-bit entry (see
# _jid_tables): flags saying in which parts the tables decide it, the bidi
# class and the canonical combining class of what it maps to, and the offset
# to the code point it maps to in localparts and domainparts. Entries come in
# blocks of 256 code points,
# loaded the first time a code point of the block is met; equal blocks are
# one object, so a process keeps only the distinct blocks it uses.

cdef enum:
    T_LOCAL_OK = 1
    T_RESOURCE_OK = 2
    T_DOMAIN_OK = 4
    T_MARK = 8
    T_BIDI_SHIFT = 4
    T_BLOCK_BITS = 8
    T_BLOCK_MASK = 255
    T_BLOCKS = 0x110000 >> 8
    # An enforced part has at most 1023 code points, and a domainpart one
    # more trailing dot: longer input goes to the complete path.
    MAX_UNICODE_JID = 3 * MAX_OCTETS + 3
    PUNYCODE_PREFIX = 4  # "xn--"

# Pointers into the bytes objects in _block_data, which keeps them alive. On a
# free-threaded build two threads may load a block at once: _jid_tables gives
# both the same bytes object (equal blocks are one object), so they store the
# same pointer.
cdef const unsigned int* _blocks[T_BLOCKS]
cdef list _block_data = []
_tables = None


cdef const unsigned int* _load_block(Py_ssize_t index) except NULL:
    global _tables
    if _tables is None:
        from xmppwire import _jid_tables
        if (_jid_tables.BLOCK_BITS != T_BLOCK_BITS
                or _jid_tables.BIDI_SHIFT != T_BIDI_SHIFT
                or _jid_tables.BIDI_CLASSES != _BIDI_CLASSES):
            raise ImportError("_jid_tables and _jid_c disagree on the table layout")
        _tables = _jid_tables
    data = _tables.block(index)
    if len(<bytes>data) != (T_BLOCK_MASK + 1) * 4:
        raise ValueError(f"table block {index} has {len(data)} bytes")
    _block_data.append(data)
    _blocks[index] = <const unsigned int*><const char*>data
    return _blocks[index]


cdef inline int _entry(uint32_t cp, unsigned int* found) except -1:
    cdef const unsigned int* block = _blocks[cp >> T_BLOCK_BITS]
    if block == NULL:
        block = _load_block(cp >> T_BLOCK_BITS)
    found[0] = block[cp & T_BLOCK_MASK]
    return 0


# Bidi classes as _jid_tables numbers them (0 is any other), as bit masks.
_BIDI_CLASSES = ("", "L", "R", "AL", "AN", "EN", "ES", "CS", "ET", "ON", "BN", "NSM")

cdef enum:
    BIDI_L = 1 << 1
    BIDI_R = 1 << 2
    BIDI_AL = 1 << 3
    BIDI_AN = 1 << 4
    BIDI_EN = 1 << 5
    BIDI_ES = 1 << 6
    BIDI_CS = 1 << 7
    BIDI_ET = 1 << 8
    BIDI_ON = 1 << 9
    BIDI_BN = 1 << 10
    BIDI_NSM = 1 << 11
    BIDI_RTL = BIDI_R | BIDI_AL | BIDI_AN
    BIDI_NEUTRAL = BIDI_EN | BIDI_ES | BIDI_CS | BIDI_ET | BIDI_ON | BIDI_BN | BIDI_NSM
    BIDI_RTL_ALLOWED = BIDI_R | BIDI_AL | BIDI_AN | BIDI_NEUTRAL
    BIDI_LTR_ALLOWED = BIDI_L | BIDI_NEUTRAL
    BIDI_RTL_ENDING = BIDI_R | BIDI_AL | BIDI_EN | BIDI_AN
    BIDI_LTR_ENDING = BIDI_L | BIDI_EN


cdef inline unsigned int _bidi(unsigned int entry) noexcept:
    return 1u << ((entry >> T_BIDI_SHIFT) & 0xF)


cdef int _bidi_rule(const uint32_t* text, Py_ssize_t length) except -1:
    """1 if ``text`` (mapped code points) satisfies the Bidi Rule of RFC 5893 §2, else 0."""
    cdef Py_ssize_t i
    cdef unsigned int entry, bidi, allowed, ending, numbers = 0
    cdef bint rtl, valid_ending = False
    _entry(text[0], &entry)
    bidi = _bidi(entry)
    if bidi == BIDI_L:  # condition 1
        rtl = False
        allowed = BIDI_LTR_ALLOWED
        ending = BIDI_LTR_ENDING
    elif bidi & (BIDI_R | BIDI_AL):
        rtl = True
        allowed = BIDI_RTL_ALLOWED
        ending = BIDI_RTL_ENDING
    else:
        return 0
    for i in range(length):
        _entry(text[i], &entry)
        bidi = _bidi(entry)
        if not bidi & allowed:  # conditions 2 and 5
            return 0
        if bidi & ending:  # conditions 3 and 6: the last character but NSMs
            valid_ending = True
        elif bidi != BIDI_NSM:
            valid_ending = False
        if rtl and bidi & (BIDI_EN | BIDI_AN):  # condition 4
            numbers |= bidi
            if numbers == (BIDI_EN | BIDI_AN):
                return 0
    return valid_ending


cdef inline uint32_t _mapped(uint32_t cp, unsigned int entry) noexcept:
    return <uint32_t>(<int>cp + <int>(<short>(entry >> 16)))


cdef inline Py_ssize_t _utf8_octets(uint32_t cp) noexcept:
    if cp < 0x80:
        return 1
    if cp < 0x800:
        return 2
    if cp < 0x10000:
        return 3
    return 4


cdef int _lower_sigmas(str text, Py_ssize_t start, Py_ssize_t end, uint32_t* out) except -2:
    """Lowercase each capital sigma of ``text[start:end]`` in ``out`` as ``str.lower`` does.

    Whether it becomes σ or ς depends on the letters around it (Final_Sigma),
    and str.lower is what the complete path runs. Every other code point the
    tables decide lowercases to one code point, so positions match; -1 if not.
    """
    cdef Py_ssize_t i
    cdef int kind = PyUnicode_KIND(text)
    cdef const void* data = PyUnicode_DATA(text)
    cdef str lowered = PyUnicode_Substring(text, start, end).lower()
    if len(lowered) != end - start:
        return -1
    for i in range(end - start):
        if PyUnicode_READ(kind, data, start + i) == 0x3A3:
            out[i] = PyUnicode_READ(PyUnicode_KIND(lowered), PyUnicode_DATA(lowered), i)
    return 0


cdef Py_ssize_t _walk_part(str text, int kind, const void* data, Py_ssize_t start,
                           Py_ssize_t end, unsigned int flag, bint mapping,
                           uint32_t* out) except -2:
    """Copy a localpart or resourcepart to ``out``, mapped; -1 if the tables can't decide.

    With ``mapping`` (UsernameCaseMapped), a part with a right-to-left code
    point must also satisfy the Bidi Rule (RFC 8265 §3.3.2).

    The tables hold only code points whose NFC_Quick_Check is Yes, so the
    part is in NFC exactly when its combining marks are in canonical order
    (UAX #15 §9): a mark with a lower class after one with a higher class is
    left to the complete path, which reorders it.
    """
    cdef Py_ssize_t i, octets = 0
    cdef unsigned int entry, ccc, last_ccc = 0, bidi = 0
    cdef uint32_t cp
    cdef bint sigma = False
    if end <= start:
        return -1
    for i in range(start, end):
        cp = PyUnicode_READ(kind, data, i)
        _entry(cp, &entry)
        if not entry & flag:
            return -1
        ccc = (entry >> 8) & 0xFF
        if ccc != 0 and ccc < last_ccc:
            return -1
        last_ccc = ccc
        if mapping:
            sigma |= cp == 0x3A3
            cp = _mapped(cp, entry)
            bidi |= _bidi(entry)
        out[i - start] = cp
        octets += _utf8_octets(cp)
    if octets > MAX_OCTETS:
        return -1
    if sigma and _lower_sigmas(text, start, end, out) < 0:
        return -1
    if bidi & BIDI_RTL and not _bidi_rule(out, end - start):
        return -1
    return end - start


cdef Py_ssize_t _punycode_length(const uint32_t* label, Py_ssize_t length) noexcept:
    """How many characters RFC 3492 Punycode encodes ``label`` to (without "xn--")."""
    cdef Py_ssize_t i, basic = 0, handled, produced
    cdef unsigned long long delta = 0, q, numerator
    cdef unsigned long long threshold
    cdef long long bias = 72, k
    cdef uint32_t current = 0x80, smallest, cp
    for i in range(length):
        if label[i] < 0x80:
            basic += 1
    produced = basic + (1 if basic else 0)
    handled = basic
    while handled < length:
        smallest = 0x110000
        for i in range(length):
            if current <= label[i] < smallest:
                smallest = label[i]
        delta += <unsigned long long>(smallest - current) * <unsigned long long>(handled + 1)
        current = smallest
        for i in range(length):
            cp = label[i]
            if cp < current:
                delta += 1
            elif cp == current:
                # one generalized variable-length integer (RFC 3492 §3.3)
                q = delta
                k = 36
                while True:
                    if k <= bias:
                        threshold = 1
                    elif k >= bias + 26:
                        threshold = 26
                    else:
                        threshold = <unsigned long long>(k - bias)
                    if q < threshold:
                        break
                    produced += 1
                    q = (q - threshold) // (36 - threshold)
                    k += 36
                produced += 1
                # bias adaptation (RFC 3492 §6.1)
                numerator = delta // 700 if handled == basic else delta // 2
                numerator += numerator // <unsigned long long>(handled + 1)
                k = 0
                while numerator > 455:
                    numerator //= 35
                    k += 36
                bias = k + <long long>((36 * numerator) // (numerator + 38))
                delta = 0
                handled += 1
        delta += 1
        current += 1
    return produced


cdef inline bint _label_ok(const uint32_t* label, Py_ssize_t length, bint ascii,
                           bint leading_mark) noexcept:
    # RFC 5891 §4.2.3: hyphens, a leading combining mark, the 63-octet A-label
    if length == 0 or length > MAX_LABEL:
        return False
    if label[0] == 0x2D or label[length - 1] == 0x2D:
        return False
    if length >= 4 and label[2] == 0x2D and label[3] == 0x2D:
        return False
    if ascii:
        return True
    if leading_mark:
        return False
    return PUNYCODE_PREFIX + _punycode_length(label, length) <= MAX_LABEL


cdef Py_ssize_t _walk_domainpart(str text, int kind, const void* data, Py_ssize_t start,
                                 Py_ssize_t end, uint32_t* out) except -2:
    """Copy a domainpart to ``out``, mapped per RFC 5895; -1 if the tables can't decide.

    Labels of letters, digits and hyphens, and U-labels of code points the
    IDNA2008 tables make PVALID: an IP address or an A-label goes to the
    complete path. If any label has a right-to-left code point, every label
    must satisfy the Bidi Rule (RFC 5893 §2, as _jid_rules applies it).
    """
    cdef Py_ssize_t i, label_start = 0, octets = 0, written
    cdef unsigned int entry, ccc, last_ccc = 0, bidi = 0
    cdef uint32_t cp
    cdef bint ascii = True, leading_mark = False, sigma = False
    if end > start and PyUnicode_READ(kind, data, end - 1) == 0x2E:
        end -= 1  # RFC 7622 §3.2: one trailing dot goes first
    if end <= start:
        return -1
    for i in range(start, end):
        cp = PyUnicode_READ(kind, data, i)
        written = i - start
        if cp == 0x2E:
            if not _label_ok(out + label_start, written - label_start, ascii, leading_mark):
                return -1
            out[written] = cp
            label_start = written + 1
            ascii = True
            last_ccc = 0
            octets += 1
            continue
        _entry(cp, &entry)
        if not entry & T_DOMAIN_OK:
            return -1
        ccc = (entry >> 8) & 0xFF
        if ccc != 0 and ccc < last_ccc:
            return -1
        last_ccc = ccc
        sigma |= cp == 0x3A3
        cp = _mapped(cp, entry)
        bidi |= _bidi(entry)
        if written == label_start:
            leading_mark = entry & T_MARK
        if cp >= 0x80:
            ascii = False
        out[written] = cp
        octets += _utf8_octets(cp)
    written = end - start
    # RFC 5895 lowercases the whole domainpart at once: a sigma's neighbours
    # may be in the next label ("." is case-ignorable).
    if sigma and _lower_sigmas(text, start, end, out) < 0:
        return -1
    if not _label_ok(out + label_start, written - label_start, ascii, leading_mark):
        return -1
    if sigma:
        # σ and ς encode to different Punycode: measure the earlier labels again
        label_start = 0
        ascii = True
        for i in range(written):
            if out[i] == 0x2E:
                if not ascii and (PUNYCODE_PREFIX + _punycode_length(out + label_start,
                                                                     i - label_start)
                                  > MAX_LABEL):
                    return -1
                label_start = i + 1
                ascii = True
            elif out[i] >= 0x80:
                ascii = False
    if octets > MAX_OCTETS:
        return -1
    if bidi & BIDI_RTL:
        label_start = 0
        for i in range(written + 1):
            if i == written or out[i] == 0x2E:
                if not _bidi_rule(out + label_start, i - label_start):
                    return -1
                label_start = i + 1
    return written


cdef bint _parse_unicode(str text, JID target) except -1:
    """Fill ``target`` from a JID the tables decide; False leaves it to the complete path."""
    cdef Py_ssize_t length = len(text)
    cdef Py_ssize_t i, at = -1, slash = length, written, size
    cdef int kind
    cdef const void* data
    cdef uint32_t cp
    cdef uint32_t out[MAX_UNICODE_JID]

    if length > MAX_UNICODE_JID:
        return False
    kind = PyUnicode_KIND(text)
    data = PyUnicode_DATA(text)
    for i in range(length):
        cp = PyUnicode_READ(kind, data, i)
        if cp == 0x2F:
            slash = i
            break
        if cp == 0x40 and at < 0:
            at = i

    written = 0
    if at >= 0:
        size = _walk_part(text, kind, data, 0, at, T_LOCAL_OK, True, out)
        if size < 0:
            return False
        out[size] = 0x40
        written = size + 1
    size = _walk_domainpart(text, kind, data, at + 1, slash, out + written)
    if size < 0:
        return False
    written += size
    target._at = at
    target._slash = written
    if slash < length:
        out[written] = 0x2F
        size = _walk_part(text, kind, data, slash + 1, length, T_RESOURCE_OK, False,
                          out + written + 1)
        if size < 0:
            return False
        written += size + 1

    # Nothing mapped and no trailing dot: the input is the canonical string.
    if written == length:
        for i in range(length):
            if out[i] != PyUnicode_READ(kind, data, i):
                break
        else:
            target._str = text
            return True
    target._str = <str>PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, out, written)
    return True


cdef bint _unicode_resourcepart(str text) except -1:
    """Whether the tables decide ``text`` is an enforced resourcepart as it stands."""
    cdef uint32_t out[MAX_OCTETS]
    if len(text) > MAX_OCTETS:
        return False
    return _walk_part(text, PyUnicode_KIND(text), PyUnicode_DATA(text), 0, len(text),
                      T_RESOURCE_OK, False, out) >= 0


def parse_unicode(str text):
    """The enforced parts of a JID the non-ASCII tables decide, or ``None``.

    ``None`` never means invalid, only "not decided here". ASCII JIDs are
    decided here too, as the tables cover ASCII, though ``JID`` sends them
    to the ASCII fast path.
    """
    cdef JID jid = JID.__new__(JID, _RAW)
    if _parse_unicode(text, jid):
        return (jid.localpart, jid.domainpart, jid.resourcepart)
    return None


def table_blocks():
    """How many blocks of 256 code points the non-ASCII tables have loaded so far."""
    cdef Py_ssize_t i, loaded = 0
    for i in range(T_BLOCKS):
        if _blocks[i] != NULL:
            loaded += 1
    return loaded


def punycode_length(str label):
    """How many characters Punycode encodes ``label`` to (for the tests)."""
    cdef Py_ssize_t i, length = len(label)
    cdef uint32_t out[MAX_LABEL + 1]
    if length > MAX_LABEL:
        raise ValueError("labels have at most 63 code points here")
    for i in range(length):
        out[i] = label[i]
    return _punycode_length(out, length)


# ---------------------------------------------------------------------------
# The JID type.

_RAW = object()


cdef JID _make(object localpart, str domainpart, object resourcepart):
    cdef JID jid = JID.__new__(JID, _RAW)
    cdef str text = domainpart
    if localpart is not None:
        text = <str>localpart + "@" + text
        jid._at = len(<str>localpart)
    else:
        jid._at = -1
    jid._slash = len(text)
    if resourcepart is not None:
        text = text + "/" + <str>resourcepart
    jid._str = text
    return jid


@cython.final
@cython.freelist(64)
cdef class JID:
    """An XMPP address, enforced per RFC 7622: ``localpart@domainpart/resourcepart``.

    Immutable and hashable; two JIDs are equal when their enforced parts are.
    ``JID(s)`` parses a string and raises :class:`xmppwire.InvalidJID` (a
    ``ValueError``) naming the part and the rule it broke.
    """

    # the canonical string, the offset of its "@" (-1 if none) and of its "/"
    # (its length if none)
    cdef str _str
    cdef Py_ssize_t _at
    cdef Py_ssize_t _slash
    cdef object __weakref__

    def __cinit__(self, jid):
        cdef JID other
        if jid is _RAW:
            return
        if type(jid) is str:
            # The fast paths first: a lookup of a fresh string costs about as
            # much as the walks, so the cache holds only what the complete path,
            # a hundred times slower, enforced.
            if PyUnicode_IS_ASCII(jid):
                if _parse_ascii(<str>jid, self):
                    return
            elif _parse_unicode(<str>jid, self):
                return
            other = <JID>_cache_get(<str>jid)
            if other is None:
                local, domain, resource = _enforce(jid)
                other = _make(local, domain, resource)
                _cache_put(<str>jid, other)
        elif isinstance(jid, JID):
            other = <JID>jid
        elif isinstance(jid, _PyJID):
            other = _make(jid.localpart, jid.domainpart, jid.resourcepart)
        elif isinstance(jid, str):
            local, domain, resource = _enforce(str(jid))
            other = _make(local, domain, resource)
        else:
            raise TypeError(f"a JID is parsed from str, not {type(jid).__name__}")
        self._str = other._str
        self._at = other._at
        self._slash = other._slash

    @classmethod
    def from_parts(cls, localpart, domainpart, resourcepart=None):
        """Build a JID from its parts, enforcing each; ``None`` leaves a part out."""
        local, domain, resource = _enforce_parts(localpart, domainpart, resourcepart)
        return _make(local, domain, resource)

    @staticmethod
    def split(jid):
        """Split without validating: (localpart, domainpart, resourcepart).

        A part is ``None`` when its separator is absent, ``""`` when empty.
        """
        return _split(jid)

    @property
    def localpart(self):
        if self._at < 0:
            return None
        return PyUnicode_Substring(self._str, 0, self._at)

    @property
    def domainpart(self):
        return PyUnicode_Substring(self._str, self._at + 1, self._slash)

    @property
    def resourcepart(self):
        if self._slash == len(self._str):
            return None
        return PyUnicode_Substring(self._str, self._slash + 1, len(self._str))

    @property
    def bare(self):
        """This JID without its resourcepart."""
        cdef JID jid
        if self._slash == len(self._str):
            return self
        jid = JID.__new__(JID, _RAW)
        jid._str = PyUnicode_Substring(self._str, 0, self._slash)
        jid._at = self._at
        jid._slash = self._slash
        return jid

    @property
    def is_bare(self):
        return self._slash == len(self._str)

    def with_resource(self, resourcepart):
        """This JID with another resourcepart (enforced), or none for ``None``."""
        cdef JID jid
        if resourcepart is None:
            return self.bare
        if type(resourcepart) is not str:
            raise TypeError(f"a resourcepart is a str, not {type(resourcepart).__name__}")
        if not (_ascii_resourcepart(<str>resourcepart)
                or _unicode_resourcepart(<str>resourcepart)):
            resourcepart = _enforce_resourcepart(resourcepart)
        jid = JID.__new__(JID, _RAW)
        jid._str = PyUnicode_Substring(self._str, 0, self._slash) + "/" + <str>resourcepart
        jid._at = self._at
        jid._slash = self._slash
        return jid

    def __str__(self):
        return self._str

    def __repr__(self):
        return f"JID({self._str!r})"

    def __eq__(self, other):
        if isinstance(other, JID):
            return self._str == (<JID>other)._str
        if isinstance(other, _PyJID):
            return self._str == str(other)
        return NotImplemented

    def __ne__(self, other):
        if isinstance(other, JID):
            return self._str != (<JID>other)._str
        if isinstance(other, _PyJID):
            return self._str != str(other)
        return NotImplemented

    def __hash__(self):
        # The canonical string and the parts determine each other, and a str
        # keeps its hash: both implementations hash JIDs this way.
        return hash(self._str)

    def __reduce__(self):
        from xmppwire._jid_pickle import restore
        return (restore, (self.localpart, self.domainpart, self.resourcepart))

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self


_jid_py.register_jid_type(JID)
