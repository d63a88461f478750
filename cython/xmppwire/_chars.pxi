# Character classes of XML 1.0 (5th edition) and UTF-8 decoding for the
# compiled scanners; included by them (needs uint32_t).

cdef extern from *:
    """
    /* Bit flags per byte value, filled in by the module at import. */
    static unsigned char xw_cc[256];

    /* Index of the lowest set bit of a nonzero int. */
    #if defined(_MSC_VER)
    #include <intrin.h>
    static __inline int xw_ctz32(unsigned int x) {
        unsigned long i;
        _BitScanForward(&i, x);
        return (int)i;
    }
    #else
    #define xw_ctz32(x) __builtin_ctz(x)
    #endif

    /* How many of the 8 bytes at p repeat p[0] when that is a space or a tab;
       0 for any other byte. Indentation is one such run after a newline: one
       word compare measures it where a vector scan costs four times as many
       instructions for a run this short. */
    static CYTHON_INLINE Py_ssize_t xw_indent(const unsigned char *p) {
        unsigned long long w;
        unsigned char c = p[0];
        if (c != 0x20 && c != 0x09) return 0;
        memcpy(&w, p, 8);
        w ^= 0x0101010101010101ULL * c;
        if (!w) return 8;
    #if defined(_MSC_VER)
        {
            unsigned long bit;
            _BitScanForward64(&bit, w);
            return (Py_ssize_t)(bit >> 3);
        }
    #elif defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        return __builtin_clzll(w) >> 3;
    #else
        return __builtin_ctzll(w) >> 3;
    #endif
    }

    /* Bit i set when p[i] (0 <= i < 16) is < 0x20, >= 0x80, '<', '&' or `extra`.
       SSE2 is part of every x86-64; elsewhere two 8-byte words do the same. */
    #if defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
    #include <emmintrin.h>
    static CYTHON_INLINE unsigned int xw_special16(const unsigned char *p, unsigned char extra) {
        __m128i v = _mm_loadu_si128((const __m128i *)p);
        __m128i hit = _mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('<')),
                         _mm_cmpeq_epi8(v, _mm_set1_epi8('&'))),
            _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8((char)extra)),
                         /* signed: catches 0x00-0x1f and 0x80-0xff at once */
                         _mm_cmplt_epi8(v, _mm_set1_epi8(0x20))));
        return (unsigned int)_mm_movemask_epi8(hit);
    }
    /* Bit i set when p[i] (0 <= i < 16) may end or interrupt an attribute value:
       < 0x20, >= 0x80, '<', '&' or either quote. Both quotes, so that every
       constant is fixed: no vector of the value's quote to build per value (the
       scan steps over the other quote). '&' (0x26) and the apostrophe (0x27)
       differ only in the lowest bit: one comparison finds both. */
    static CYTHON_INLINE unsigned int xw_value16(const unsigned char *p) {
        __m128i v = _mm_loadu_si128((const __m128i *)p);
        __m128i hit = _mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(_mm_or_si128(v, _mm_set1_epi8(1)), _mm_set1_epi8(0x27)),
                         _mm_cmpeq_epi8(v, _mm_set1_epi8(0x22))),
            _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('<')),
                         /* signed: catches 0x00-0x1f and 0x80-0xff at once */
                         _mm_cmplt_epi8(v, _mm_set1_epi8(0x20))));
        return (unsigned int)_mm_movemask_epi8(hit);
    }
    /* How many of the bytes at p are XML whitespace (space, tab, CR, LF): 16 at a
       time, so a run of indentation costs no branch per byte. Stops at any other
       byte, the NUL after the data included. */
    static CYTHON_INLINE Py_ssize_t xw_ws_run(const unsigned char *p) {
        /* Indentation is mostly one run of spaces or tabs, shorter than 8:
           counted in a word, with no vector constants to load. */
        Py_ssize_t run = xw_indent(p);
        const unsigned char *q = p + run;
        if (run < 8 && *q != 0x20 && *q != 0x0A && *q != 0x09 && *q != 0x0D) return run;
        for (;;) {
            __m128i v = _mm_loadu_si128((const __m128i *)q);
            __m128i ws = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(0x20)),
                             _mm_cmpeq_epi8(v, _mm_set1_epi8(0x0A))),
                _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(0x09)),
                             _mm_cmpeq_epi8(v, _mm_set1_epi8(0x0D))));
            unsigned int other = (~(unsigned int)_mm_movemask_epi8(ws)) & 0xFFFFu;
            if (other) return (q - p) + xw_ctz32(other);
            q += 16;
        }
    }
    #else
    static CYTHON_INLINE Py_ssize_t xw_ws_run(const unsigned char *p) {
        const unsigned char *q = p;
        while (*q == 0x20 || *q == 0x0A || *q == 0x09 || *q == 0x0D) q++;
        return q - p;
    }
    static CYTHON_INLINE unsigned int xw_special8(unsigned long long w, unsigned long long extras) {
        const unsigned long long ones = 0x0101010101010101ULL;
        unsigned long long a = w ^ (ones * 0x3C), b = w ^ (ones * 0x26), q = w ^ extras;
        unsigned long long m = (((a - ones) & ~a) | ((b - ones) & ~b) | ((q - ones) & ~q)
                                | ((w - ones * 0x20) & ~w) | w) & 0x8080808080808080ULL;
        /* Only bits up to the first true one are exact; the caller uses the lowest. */
        return (unsigned int)((((m >> 7) * 0x0102040810204080ULL)) >> 56);
    }
    static CYTHON_INLINE unsigned int xw_special16(const unsigned char *p, unsigned char extra) {
        unsigned long long w0, w1, extras = 0x0101010101010101ULL * extra;
        unsigned int lo;
        memcpy(&w0, p, 8);
        memcpy(&w1, p + 8, 8);
    #if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        w0 = __builtin_bswap64(w0);
        w1 = __builtin_bswap64(w1);
    #endif
        lo = xw_special8(w0, extras);
        if (lo) return lo;
        return xw_special8(w1, extras) << 8;
    }
    static CYTHON_INLINE unsigned int xw_value16(const unsigned char *p) {
        /* The lowest bit of each is exact, so is the lowest of both. */
        return xw_special16(p, 0x27) | xw_special16(p, 0x22);
    }
    #endif

    """
    unsigned char xw_cc[256]
    int xw_ctz32(unsigned int x) noexcept nogil
    unsigned int xw_special16(const unsigned char* p, unsigned char extra) noexcept nogil
    unsigned int xw_value16(const unsigned char* p) noexcept nogil
    Py_ssize_t xw_ws_run(const unsigned char* p) noexcept nogil
    Py_ssize_t xw_indent(const unsigned char* p) noexcept nogil

# xw_cc flags
cdef enum:
    CC_NAMESTART = 1   # ASCII NameStartChar other than ':'
    CC_NAME = 2        # ASCII NameChar other than ':'
    CC_WS = 4          # S: space, tab, CR, LF
    CC_TEXT = 8        # stops the text scanner: '<' '&' ']', controls, non-ASCII
    CC_ILLEGAL = 32    # an ASCII control XML forbids


cdef inline int utf8_decode(const unsigned char* p, Py_ssize_t i, Py_ssize_t end,
                            uint32_t* cp) noexcept nogil:
    """Length of the UTF-8 sequence at p[i], 0 if `end` cuts it, -1 if invalid.

    An invalid sequence is always reported at its first byte, as CPython's
    decoder does (UnicodeDecodeError.start).
    """
    cdef unsigned int c = p[i]
    cdef unsigned int c1, c2, c3, lo = 0x80, hi = 0xBF
    if c < 0x80:
        cp[0] = c
        return 1
    if c < 0xC2:
        return -1
    if c < 0xE0:
        if i + 1 >= end:
            return 0
        c1 = p[i + 1]
        if c1 < 0x80 or c1 > 0xBF:
            return -1
        cp[0] = ((c & 0x1F) << 6) | (c1 & 0x3F)
        return 2
    if c < 0xF0:
        if c == 0xE0:
            lo = 0xA0
        elif c == 0xED:
            hi = 0x9F
        if i + 1 >= end:
            return 0
        c1 = p[i + 1]
        if c1 < lo or c1 > hi:
            return -1
        if i + 2 >= end:
            return 0
        c2 = p[i + 2]
        if c2 < 0x80 or c2 > 0xBF:
            return -1
        cp[0] = ((c & 0x0F) << 12) | ((c1 & 0x3F) << 6) | (c2 & 0x3F)
        return 3
    if c < 0xF5:
        if c == 0xF0:
            lo = 0x90
        elif c == 0xF4:
            hi = 0x8F
        if i + 1 >= end:
            return 0
        c1 = p[i + 1]
        if c1 < lo or c1 > hi:
            return -1
        if i + 2 >= end:
            return 0
        c2 = p[i + 2]
        if c2 < 0x80 or c2 > 0xBF:
            return -1
        if i + 3 >= end:
            return 0
        c3 = p[i + 3]
        if c3 < 0x80 or c3 > 0xBF:
            return -1
        cp[0] = ((c & 0x07) << 18) | ((c1 & 0x3F) << 12) | ((c2 & 0x3F) << 6) | (c3 & 0x3F)
        return 4
    return -1


cdef inline bint is_xml_char(uint32_t c) noexcept nogil:
    if c < 0x20:
        return c == 0x9 or c == 0xA or c == 0xD
    if c <= 0xD7FF:
        return True
    if c < 0xE000:
        return False
    if c <= 0xFFFD:
        return True
    return 0x10000 <= c <= 0x10FFFF


cdef inline bint is_name_start(uint32_t c) noexcept nogil:
    # XML 1.0 5th edition NameStartChar, ':' excluded (names are QNames).
    if c < 0x80:
        return (xw_cc[c] & CC_NAMESTART) != 0
    return ((0xC0 <= c <= 0xD6) or (0xD8 <= c <= 0xF6) or (0xF8 <= c <= 0x2FF)
            or (0x370 <= c <= 0x37D) or (0x37F <= c <= 0x1FFF)
            or (0x200C <= c <= 0x200D) or (0x2070 <= c <= 0x218F)
            or (0x2C00 <= c <= 0x2FEF) or (0x3001 <= c <= 0xD7FF)
            or (0xF900 <= c <= 0xFDCF) or (0xFDF0 <= c <= 0xFFFD)
            or (0x10000 <= c <= 0xEFFFF))


cdef inline bint is_name_char(uint32_t c) noexcept nogil:
    if c < 0x80:
        return (xw_cc[c] & CC_NAME) != 0
    return (is_name_start(c) or c == 0xB7 or (0x300 <= c <= 0x36F)
            or (0x203F <= c <= 0x2040))
