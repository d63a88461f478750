"""Resource limits of the stream parser."""

from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = ["Limits"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Bounds on what a peer may make the parser hold or walk through.

    Every limit is counted in bytes of the wire encoding (UTF-8), exactly: a
    value equal to a limit passes, one byte more fails with a
    ``RemoteProtocolError`` whose condition is ``policy-violation``.
    """

    #: Largest top-level element (stanza or nonza), from its ``<`` to its final
    #: ``>``; also the largest run of non-whitespace character data between
    #: top-level elements. 256 KiB, Prosody's c2s default.
    max_stanza_bytes: int = 262_144
    #: Everything before and including the stream header's ``>``: XML
    #: declaration, whitespace and the ``<stream:stream ...>`` tag.
    max_header_bytes: int = 8_192
    #: Deepest nesting inside a top-level element; the top-level element itself
    #: is depth 1.
    max_depth: int = 128
    #: Attributes per element, namespace declarations included.
    max_attributes: int = 64
    #: Longest element or attribute name, prefix and colon included.
    max_name_bytes: int = 1_024
    #: Longest attribute value, as written (before reference decoding).
    max_attribute_value_bytes: int = 65_536

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{f.name} must be a positive int, not {value!r}")


#: The defaults, shared so the common case allocates nothing.
DEFAULT_LIMITS = Limits()
