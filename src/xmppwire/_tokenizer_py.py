"""Pure-Python twin of the stream tokenizer (see docs/stream-parser.md)."""

from __future__ import annotations

from collections.abc import Iterable

from .events import ParserEvent, StreamHeader
from .limits import DEFAULT_LIMITS, Limits


class StreamParser:
    def __init__(
        self, *, limits: Limits = DEFAULT_LIMITS, pause_after: Iterable[tuple[str, str]] = ()
    ) -> None:
        raise NotImplementedError

    def feed(self, data: bytes | bytearray | memoryview) -> list[ParserEvent]:
        raise NotImplementedError

    def close(self) -> list[ParserEvent]:
        raise NotImplementedError

    def reset(self) -> None:
        raise NotImplementedError

    def take_unparsed(self) -> bytes:
        raise NotImplementedError

    header: StreamHeader | None
