"""Per-code-point facts for the compiled JID twin's non-ASCII fast path.

The compiled twin walks non-ASCII JID parts in C against a table that says,
for each code point, whether the fast path may decide it and what it maps
to. The table is derived here, 256 code points at a time and only for the
blocks a process meets, from the very functions the complete path uses
(precis-i18n's derived property on the running Python's ``unicodedata``,
idna's IDNA2008 tables, ``str.lower``), so the fast path agrees with
``_jid_rules`` on every interpreter.

A code point is marked as decidable for a part only when nothing about it
depends on its neighbours except what the C walker checks itself
(canonical ordering of combining marks, label structure, lengths):

- it maps to one code point under the part's mappings (width, case,
  RFC 5895), the same one for localparts and domainparts, and that code
  point maps to itself (idempotence, RFC 8264 §7);
- the mapped code point has NFC_Quick_Check=Yes, so a string of such code
  points in canonical order is already NFC;
- it is PVALID (FREE_PVAL too for resourceparts), never CONTEXTJ/CONTEXTO;
- its bidi class is in the entry, for the C walker to apply the bidi rule
  of RFC 5893 to parts that contain a right-to-left code point (R, AL, AN);
- U+03A3 GREEK CAPITAL LETTER SIGMA lowercases to U+03C3 or, by the
  Final_Sigma rule, to U+03C2 FINAL SIGMA, depending on its neighbours: its
  entry maps it to U+03C3 and is decidable only where U+03C2 is too; the C
  walker then asks ``str.lower`` (what the complete path runs) which one
  each capital sigma of the part becomes.

Everything else is left to ``_jid_rules``.
"""

from __future__ import annotations

import threading
import unicodedata
from array import array
from typing import Final

import idna
from idna import idnadata
from idna.intranges import intranges_contain
from precis_i18n.derived import FREE_PVAL, PVALID, derived_property

from ._jid_rules import _UCD, EXCLUDED_LOCALPART_CHARACTERS

__all__ = [
    "BIDI_CLASSES",
    "BIDI_SHIFT",
    "BLOCK_BITS",
    "CCC_SHIFT",
    "DELTA_SHIFT",
    "DOMAIN_OK",
    "LOCAL_OK",
    "MARK",
    "RESOURCE_OK",
    "block",
    "entry",
]

BLOCK_BITS: Final = 8
_BLOCK_SIZE: Final = 1 << BLOCK_BITS

# One unsigned 32-bit entry per code point: four flags and the bidi class of
# the mapped code point in the low byte, the canonical combining class in the
# next, and the signed 16-bit difference between the mapped code point and
# the code point in the top half.
LOCAL_OK: Final = 1
RESOURCE_OK: Final = 2
DOMAIN_OK: Final = 4
MARK: Final = 8  # general category M, which can't start an IDNA label
BIDI_SHIFT: Final = 4
CCC_SHIFT: Final = 8
DELTA_SHIFT: Final = 16
#: The bidi classes RFC 5893 names, numbered as the C walker expects; 0 is any other.
BIDI_CLASSES: Final = ("", "L", "R", "AL", "AN", "EN", "ES", "CS", "ET", "ON", "BN", "NSM")
_BIDI_CODE: Final = {name: code for code, name in enumerate(BIDI_CLASSES) if name}

_SIGMA: Final = 0x03A3
_FINAL_SIGMA: Final = "\u03c2"
_RTL: Final = frozenset({"R", "AL", "AN"})
_LDH_ASCII: Final = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")
# idna renamed its table between releases.
_IDNA_CLASSES: Final = getattr(idnadata, "codepoint_classes", None) or idnadata.codepoints
_IDNA_PVALID: Final = _IDNA_CLASSES["PVALID"]

_UINT32: Final = next(code for code in "IL" if array(code).itemsize == 4)

_lock = threading.Lock()
_by_content: dict[bytes, bytes] = {}
_nfc_maybe: frozenset[int] | None = None


def _second_halves() -> frozenset[int]:
    """Code points that may combine with the one before them under NFC.

    These are NFC_Quick_Check=Maybe: the second code point of every
    primary composite's canonical decomposition (one that NFC composes back,
    so not a composition exclusion), and the conjoining Hangul vowels and
    trailing consonants.
    """
    global _nfc_maybe
    if _nfc_maybe is None:
        found = set(range(0x1161, 0x1176)) | set(range(0x11A8, 0x11C3))
        decomposition = unicodedata.decomposition
        normalize = unicodedata.normalize
        for cp in range(0x110000):
            fields = decomposition(chr(cp))
            if fields and fields[0] != "<":
                parts = fields.split()
                if len(parts) == 2:
                    pair = chr(int(parts[0], 16)) + chr(int(parts[1], 16))
                    if normalize("NFC", pair) == chr(cp):
                        found.add(ord(pair[1]))
        _nfc_maybe = frozenset(found)
    return _nfc_maybe


def _nfc_yes(char: str) -> bool:
    return unicodedata.normalize("NFC", char) == char and ord(char) not in _second_halves()


def _map_localpart(char: str) -> str:
    # UsernameCaseMapped: width mapping, then toLowerCase (RFC 8265 §3.3.2)
    return _UCD.width_map(char).lower()


def _map_domainpart(char: str) -> str:
    # RFC 5895 §2 as _jid_rules applies it: lowercase, then width mapping
    return _UCD.width_map(char.lower()).replace("\u3002", ".")


def _local_ok(mapped: str) -> bool:
    return (
        derived_property(ord(mapped), _UCD)[0] == PVALID
        and mapped not in EXCLUDED_LOCALPART_CHARACTERS
        and _map_localpart(mapped) == mapped
        and _nfc_yes(mapped)
    )


def _resource_ok(char: str) -> bool:
    return (
        # OpaqueString maps non-ASCII spaces to U+0020; those are left to the library.
        _UCD.map_nonascii_space_to_ascii(char) == char
        and derived_property(ord(char), _UCD)[0] in (PVALID, FREE_PVAL)
        and _nfc_yes(char)
    )


def _domain_ok(mapped: str) -> bool:
    if mapped.isascii():
        return mapped in _LDH_ASCII
    if not (
        intranges_contain(ord(mapped), _IDNA_PVALID)
        and unicodedata.bidirectional(mapped) != ""
        and _map_domainpart(mapped) == mapped
        and _nfc_yes(mapped)
    ):
        return False
    # What idna itself says of the code point, after a letter if it is a mark
    # (a mark can't start a label) and of the same direction (the C walker
    # checks those on its own).
    probe = mapped
    if unicodedata.category(mapped)[0] == "M":
        probe = ("\u05d0" if unicodedata.bidirectional(mapped) in _RTL else "a") + mapped
    try:
        idna.check_label(probe)
    except (idna.IDNAError, UnicodeError, ValueError):
        return False
    return True


def entry(cp: int) -> int:
    """The table entry for one code point (see the module docstring)."""
    char = chr(cp)
    category = unicodedata.category(char)
    if category in ("Cn", "Co", "Cs", "Cc"):
        return 0
    ccc = unicodedata.combining(char)
    flags = 0
    if _resource_ok(char):
        flags |= RESOURCE_OK
    local = _map_localpart(char)
    domain = _map_domainpart(char)
    # The walker lowercases sigmas in context with str.lower on the input,
    # which is what the complete path lowercases only without width mapping.
    if len(local) == 1 and -0x8000 <= ord(local) - cp < 0x8000 and _UCD.width_map(char) == char:
        final = _FINAL_SIGMA if cp == _SIGMA else local
        if unicodedata.combining(local) == ccc and _local_ok(local) and _local_ok(final):
            flags |= LOCAL_OK
        if (
            domain == local
            and unicodedata.combining(domain) == ccc
            and _domain_ok(domain)
            and _domain_ok(final)
        ):
            flags |= DOMAIN_OK
            if unicodedata.category(domain)[0] == "M":
                flags |= MARK
    if not flags & (LOCAL_OK | DOMAIN_OK):
        local = char
    if not flags:
        return 0
    delta = (ord(local) - cp) & 0xFFFF
    bidi = _BIDI_CODE.get(unicodedata.bidirectional(local), 0)
    return flags | bidi << BIDI_SHIFT | ccc << CCC_SHIFT | delta << DELTA_SHIFT


def block(index: int) -> bytes:
    """The entries of code points ``index * 256`` to ``index * 256 + 255``, native uint32.

    Equal blocks come back as the same object, so a caller keeping every
    block it gets keeps each distinct one once.
    """
    if not 0 <= index < 0x110000 >> BLOCK_BITS:
        raise ValueError(f"no block {index}")
    start = index << BLOCK_BITS
    data = array(_UINT32, (entry(cp) for cp in range(start, start + _BLOCK_SIZE))).tobytes()
    with _lock:
        return _by_content.setdefault(data, data)
