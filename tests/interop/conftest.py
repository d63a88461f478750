"""The session's Prosody, and the rule for when interop tests may skip.

They skip only when Prosody is missing and can't be installed here. With
``XMPPWIRE_REQUIRE_INTEROP=1`` (CI sets it) that is a failure instead, so a
broken installation can't pass unnoticed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from . import unavailable
from .prosody import ProsodyInstance, ProsodyUnavailable, prosody_server

#: (log file, its tail) of each server this session ran, kept past its deletion.
_logs: list[tuple[str, str]] = []


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(pytest.mark.interop)


@pytest.fixture(scope="session")
def prosody() -> Iterator[ProsodyInstance]:
    """A Prosody on 127.0.0.1 with the users of ``DEFAULT_USERS``, for the whole session."""
    try:
        server = prosody_server()
        instance = server.__enter__()
    except ProsodyUnavailable as exc:
        unavailable(f"Prosody is unavailable: {exc}")
        raise
    try:
        yield instance
    finally:
        _logs.append((str(instance.log_file), instance.log_tail(200)))
        server.__exit__(None, None, None)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    # Prosody's debug log is what explains an interop failure in CI.
    failed = [
        report
        for report in terminalreporter.stats.get("failed", [])
        + terminalreporter.stats.get("error", [])
        if "interop" in getattr(report, "keywords", {})
    ]
    if not failed:
        return
    for path, tail in _logs:
        terminalreporter.section(f"Prosody log ({path})")
        terminalreporter.write_line(tail)
