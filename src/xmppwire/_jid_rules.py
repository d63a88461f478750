"""RFC 7622 enforcement of JID parts, through precis-i18n and idna.

This is the complete path, shared by both implementations: each twin tries its
own all-ASCII fast path first and comes here for everything else (non-ASCII
input, A-labels, IP literals, and every input that is invalid, so error
messages never depend on the implementation).

The Unicode tables are the libraries': precis-i18n derives PRECIS properties
from the running Python's ``unicodedata``; idna brings its own IDNA2008
tables but takes normalization and bidi classes from ``unicodedata`` too.
See docs/jid.md for the gaps of both libraries that the glue here closes.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Final

import idna
import precis_i18n
from precis_i18n.unicode import UnicodeData

from .errors import InvalidJID

__all__ = [
    "ASCII_LOCALPART",
    "ASCII_RESOURCEPART",
    "EXCLUDED_LOCALPART_CHARACTERS",
    "LDH_DOMAINPART",
    "MAX_PART_OCTETS",
    "ascii_domainpart",
    "ascii_localpart",
    "ascii_resourcepart",
    "clear_memo",
    "enforce",
    "enforce_domainpart",
    "enforce_localpart",
    "enforce_parts",
    "enforce_resourcepart",
    "split",
]

#: RFC 7622 §3.1: every part is at most 1023 octets of UTF-8, after enforcement.
MAX_PART_OCTETS: Final = 1023

#: RFC 7622 §3.3.1: allowed by UsernameCaseMapped, but not in a localpart.
EXCLUDED_LOCALPART_CHARACTERS: Final = frozenset("\"&'/:<>@")

# No PRECIS or RFC 5895 mapping deletes code points, and NFC merges at most four
# into one, so an input part longer than this can only enforce to more than
# 1023 octets. Refusing it up front bounds the work done on hostile input.
_MAX_INPUT_CODE_POINTS: Final = 4 * MAX_PART_OCTETS

# A DNS label is at most 63 octets in its A-label form. A U-label of more than
# 63 code points always has a longer A-label, so checking this first keeps
# idna's whole-domain limits (meant for DNS names, not for JIDs) out of reach.
_MAX_LABEL_OCTETS: Final = 63

_USERNAME: Final = precis_i18n.get_profile("UsernameCaseMapped")
_OPAQUE: Final = precis_i18n.get_profile("OpaqueString")
_UCD: Final = UnicodeData()

_DEC_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"
_IPV4 = rf"{_DEC_OCTET}\.{_DEC_OCTET}\.{_DEC_OCTET}\.{_DEC_OCTET}"
_H16 = r"[0-9A-Fa-f]{1,4}"
_LS32 = rf"(?:{_H16}:{_H16}|{_IPV4})"
_IPV6 = "|".join(
    (
        rf"(?:{_H16}:){{6}}{_LS32}",
        rf"::(?:{_H16}:){{5}}{_LS32}",
        rf"(?:{_H16})?::(?:{_H16}:){{4}}{_LS32}",
        rf"(?:(?:{_H16}:){{0,1}}{_H16})?::(?:{_H16}:){{3}}{_LS32}",
        rf"(?:(?:{_H16}:){{0,2}}{_H16})?::(?:{_H16}:){{2}}{_LS32}",
        rf"(?:(?:{_H16}:){{0,3}}{_H16})?::{_H16}:{_LS32}",
        rf"(?:(?:{_H16}:){{0,4}}{_H16})?::{_LS32}",
        rf"(?:(?:{_H16}:){{0,5}}{_H16})?::{_H16}",
        rf"(?:(?:{_H16}:){{0,6}}{_H16})?::",
    )
)
# RFC 3986 §3.2.2 IPvFuture; ABNF literals are case-insensitive, hence [vV].
_IPVFUTURE = r"[vV][0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+"
# RFC 7622 §3.2 admits exactly RFC 3986's IPv4address and IP-literal; the
# RFC 6874 zone identifier extension is not part of that grammar.
_IPV4_RE: Final = re.compile(_IPV4, re.ASCII)
_IP_LITERAL_RE: Final = re.compile(rf"\[(?:{_IPV6}|{_IPVFUTURE})\]", re.ASCII)

_RTL_BIDI_CLASSES: Final = frozenset({"R", "AL", "AN"})

# What the rules come to on ASCII, used as shortcuts for ASCII parts (see
# docs/jid.md). Printable ASCII is PVALID in both PRECIS classes (RFC 8264
# §9.11, ASCII7) except that IdentifierClass has no space, and RFC 7622 §3.3.1
# removes " & ' / : < > @ from localparts; IDNA2008 leaves ASCII labels with
# the NR-LDH form (RFC 5890 §2.3.1): letters, digits and hyphens, no hyphen
# first or last, and none in both the third and fourth positions, which
# "xn--" A-labels have and which the complete path handles.
ASCII_LOCALPART: Final = r"[!#-%(-.0-9;=?A-~]{1,1023}"
ASCII_RESOURCEPART: Final = r"[ -~]{1,1023}"
_LDH_LABEL = r"(?![a-zA-Z0-9-]{2}--)[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
#: Regular expressions, without the 1023-octet limit, which needs a length check.
LDH_DOMAINPART: Final = rf"{_LDH_LABEL}(?:\.{_LDH_LABEL})*"
_ASCII_LOCAL_RE: Final = re.compile(ASCII_LOCALPART, re.ASCII)
_ASCII_RESOURCE_RE: Final = re.compile(ASCII_RESOURCEPART, re.ASCII)
_LDH_LABEL_RE: Final = re.compile(_LDH_LABEL, re.ASCII)
_LDH_DOMAIN_RE: Final = re.compile(LDH_DOMAINPART, re.ASCII)


def ascii_localpart(localpart: str) -> str | None:
    """The enforced form of an ASCII localpart, or ``None`` if the complete rules must decide."""
    if localpart.isascii() and _ASCII_LOCAL_RE.fullmatch(localpart) is not None:
        return localpart.lower()
    return None


def ascii_domainpart(domainpart: str) -> str | None:
    """The enforced form of an ASCII domainpart of NR-LDH labels, or ``None``."""
    if not domainpart.isascii():
        return None
    if domainpart.endswith("."):
        domainpart = domainpart[:-1]
    if len(domainpart) > MAX_PART_OCTETS or _LDH_DOMAIN_RE.fullmatch(domainpart) is None:
        return None
    return domainpart.lower()


def ascii_resourcepart(resourcepart: str) -> str | None:
    """The enforced form of an ASCII resourcepart, or ``None``."""
    if resourcepart.isascii() and _ASCII_RESOURCE_RE.fullmatch(resourcepart) is not None:
        return resourcepart
    return None


def split(jid: str) -> tuple[str | None, str, str | None]:
    """Split ``jid`` into (localpart, domainpart, resourcepart), without validation.

    The first ``/`` ends the domainpart and the first ``@`` before it ends the
    localpart, so a resourcepart may contain both. A part is ``None`` when its
    separator is absent and ``""`` when the separator is there with nothing
    next to it.
    """
    head, slash, resource = jid.partition("/")
    local, at, domain = head.partition("@")
    if not at:
        local, domain = None, head
    return local, domain, resource if slash else None


def _too_long(part: str, value: str) -> InvalidJID:
    return InvalidJID(
        f"{part} is longer than {MAX_PART_OCTETS} octets of UTF-8: {value[:64]!r}...",
        part=part,
        rule="too-long",
    )


def _empty(part: str) -> InvalidJID:
    return InvalidJID(f"{part} is empty", part=part, rule="empty")


def _precis_error(part: str, profile: str, value: str, err: UnicodeEncodeError) -> InvalidJID:
    kind = err.reason.rpartition("/")[2]
    if kind == "empty":
        return _empty(part)
    if err.end - err.start == 1 and err.start < len(err.object):
        char = err.object[err.start]
        where = f" U+{ord(char):04X} {unicodedata.name(char, '(unnamed)')} at {err.start}"
    else:
        where = ""
    return InvalidJID(
        f"{part} {value!r} breaks the PRECIS {profile} profile: {kind}{where}",
        part=part,
        rule=f"precis:{kind}",
    )


def _check_octets(part: str, value: str) -> None:
    # Most parts are far shorter, and a string has at most 4 octets per code point.
    if len(value) * 4 > MAX_PART_OCTETS and len(value.encode("utf-8")) > MAX_PART_OCTETS:
        raise _too_long(part, value)


def enforce_localpart(localpart: str, *, shortcut: bool = True) -> str:
    """Apply RFC 7622 §3.3 to a localpart: UsernameCaseMapped, minus eight characters.

    ``shortcut=False`` sends ASCII through the libraries too (for tests).
    """
    if shortcut:
        enforced = ascii_localpart(localpart)
        if enforced is not None:
            return enforced
    if not localpart:
        raise _empty("localpart")
    if len(localpart) > _MAX_INPUT_CODE_POINTS:
        raise _too_long("localpart", localpart)
    try:
        enforced = _USERNAME.enforce(localpart)
    except UnicodeEncodeError as err:
        raise _precis_error("localpart", "UsernameCaseMapped", localpart, err) from None
    for char in enforced:
        if char in EXCLUDED_LOCALPART_CHARACTERS:
            raise InvalidJID(
                f"localpart {localpart!r} contains {char!r}, which RFC 7622 §3.3.1 excludes",
                part="localpart",
                rule="excluded-character",
            )
    _check_octets("localpart", enforced)
    return enforced


def enforce_resourcepart(resourcepart: str, *, shortcut: bool = True) -> str:
    """Apply RFC 7622 §3.4 to a resourcepart: the OpaqueString profile.

    ``shortcut=False`` sends ASCII through the library too (for tests).
    """
    if shortcut:
        enforced = ascii_resourcepart(resourcepart)
        if enforced is not None:
            return enforced
    if not resourcepart:
        raise _empty("resourcepart")
    if len(resourcepart) > _MAX_INPUT_CODE_POINTS:
        raise _too_long("resourcepart", resourcepart)
    try:
        enforced = _OPAQUE.enforce(resourcepart)
    except UnicodeEncodeError as err:
        raise _precis_error("resourcepart", "OpaqueString", resourcepart, err) from None
    _check_octets("resourcepart", enforced)
    return enforced


def _rfc5895_map(domain: str) -> str:
    # RFC 5895 §2, in its order: lowercase, width, NFC, then U+3002 as a dot.
    # idna's uts46=True is a different, larger mapping (it maps compatibility
    # characters and deletes others), so it is not used.
    mapped = _UCD.width_map(domain.lower())
    return unicodedata.normalize("NFC", mapped).replace("\u3002", ".")


def _idna_error(domain: str, label: str, err: UnicodeError) -> InvalidJID:
    code = getattr(err, "code", None) or "invalid-label"
    return InvalidJID(
        f"domainpart {domain!r}: label {label!r} is not a valid IDNA2008 label: {err}",
        part="domainpart",
        rule=f"idna:{code}",
    )


def _enforce_label(domain: str, label: str, shortcut: bool) -> str:
    if not label:
        raise InvalidJID(
            f"domainpart {domain!r} has an empty label", part="domainpart", rule="empty-label"
        )
    if len(label) > _MAX_LABEL_OCTETS:
        raise InvalidJID(
            f"domainpart {domain!r}: label {label[:70]!r} is longer than 63 octets",
            part="domainpart",
            rule="label-too-long",
        )
    if shortcut and _LDH_LABEL_RE.fullmatch(label) is not None:
        return label
    try:
        if not label.isascii():
            # alabel() validates the U-label and measures its A-label form.
            idna.alabel(label)
            return label
        if label.startswith("xn--"):
            ulabel = idna.ulabel(label)
            # Older idna releases accept non-canonical Punycode; RFC 5891 §5.3 does not.
            if idna.alabel(ulabel).decode("ascii") != label:
                raise idna.IDNAError("not the canonical A-label of its U-label")
            return ulabel
        idna.check_label(label)
        return label
    except (idna.IDNAError, UnicodeError) as err:
        raise _idna_error(domain, label, err) from None


def enforce_domainpart(domainpart: str, *, shortcut: bool = True) -> str:
    """Apply RFC 7622 §3.2 to a domainpart; A-labels come back as U-labels.

    ``shortcut=False`` sends ASCII labels through idna too (for tests).
    """
    if shortcut:
        enforced = ascii_domainpart(domainpart)
        if enforced is not None:
            return enforced
        if len(domainpart) <= _MAX_MEMO_INPUT:
            return _memo_domainpart(domainpart)
    return _enforce_domainpart(domainpart, shortcut)


def _enforce_domainpart(domainpart: str, shortcut: bool) -> str:
    # RFC 7622 §3.2: one trailing dot goes before any other step.
    domain = domainpart[:-1] if domainpart.endswith(".") else domainpart
    if not domain:
        raise _empty("domainpart")
    if len(domain) > _MAX_INPUT_CODE_POINTS:
        raise _too_long("domainpart", domain)
    if domain[0] == "[" or domain[-1] == "]":
        if _IP_LITERAL_RE.fullmatch(domain) is None:
            raise InvalidJID(
                f"domainpart {domainpart!r} is not an RFC 3986 IP-literal",
                part="domainpart",
                rule="ip-literal",
            )
        return domain
    if _IPV4_RE.fullmatch(domain) is not None:
        return domain
    mapped = _rfc5895_map(domain)
    labels = [_enforce_label(domainpart, label, shortcut) for label in mapped.split(".")]
    # RFC 5893 §2: once any label holds a right-to-left character, every label
    # of the name must pass the Bidi Rule; idna checks each label on its own.
    if (
        len(labels) > 1
        and not mapped.isascii()
        and any(unicodedata.bidirectional(char) in _RTL_BIDI_CLASSES for char in mapped)
    ):
        for label in labels:
            try:
                idna.check_bidi(label, check_ltr=True)
            except (idna.IDNAError, UnicodeError) as err:
                raise _idna_error(domainpart, label, err) from None
    enforced = ".".join(labels)
    _check_octets("domainpart", enforced)
    return enforced


# A server sees the same few domains in JIDs that are otherwise all different,
# and IDNA is the costliest step, so valid domainparts are remembered (lru_cache
# is bounded and thread-safe; invalid ones raise and are not kept).
_MAX_MEMO_INPUT: Final = 255
_memo_domainpart: Final = functools.lru_cache(maxsize=1024)(
    functools.partial(_enforce_domainpart, shortcut=True)
)


def clear_memo() -> None:
    """Forget the remembered domainparts."""
    _memo_domainpart.cache_clear()


def enforce_parts(
    localpart: str | None,
    domainpart: str,
    resourcepart: str | None,
    *,
    shortcut: bool = True,
) -> tuple[str | None, str, str | None]:
    """Enforce each present part; ``None`` means the part is absent."""
    for part in (localpart, domainpart, resourcepart):
        if part is not None and type(part) is not str:
            raise TypeError(f"JID parts are str, not {type(part).__name__}")
    if domainpart is None:
        raise TypeError("a JID needs a domainpart")
    return (
        None if localpart is None else enforce_localpart(localpart, shortcut=shortcut),
        enforce_domainpart(domainpart, shortcut=shortcut),
        None if resourcepart is None else enforce_resourcepart(resourcepart, shortcut=shortcut),
    )


def enforce(jid: str, *, shortcut: bool = True) -> tuple[str | None, str, str | None]:
    """Split and enforce a whole JID string: the complete (slow) path.

    With ``shortcut=False`` every part goes through precis-i18n and idna, even
    ASCII: the reference the fast paths are tested against.
    """
    if type(jid) is not str:
        raise TypeError(f"a JID is parsed from str, not {type(jid).__name__}")
    return enforce_parts(*split(jid), shortcut=shortcut)
