"""The benchmark's output: an aligned text table, or JSON."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from .runners import CONTENDERS, Measurement

__all__ = ["CorpusInfo", "Report", "format_json", "format_table"]

BASELINE = "expat"


@dataclass(frozen=True, slots=True)
class CorpusInfo:
    name: str
    size: int
    elements: int
    description: str


@dataclass(slots=True)
class Report:
    machine: dict[str, str]
    seed: int
    corpora: list[CorpusInfo]
    results: list[Measurement] = field(default_factory=list)
    command: str = ""
    #: Runs per measurement; the fastest counts.
    repeat: int = 1

    def corpus(self, name: str) -> CorpusInfo:
        return next(c for c in self.corpora if c.name == name)

    def mb_per_s(self, m: Measurement) -> float | None:
        return m.size / m.seconds / 1e6 if m.seconds else None

    def stanzas_per_s(self, m: Measurement) -> float | None:
        return self.corpus(m.corpus).elements / m.seconds if m.seconds else None

    def ratio(self, m: Measurement) -> float | None:
        base = next(
            (
                r
                for r in self.results
                if r.contender == BASELINE and r.corpus == m.corpus and r.chunk == m.chunk
            ),
            None,
        )
        if base is None or not base.seconds or not m.seconds:
            return None
        return base.seconds / m.seconds

    def note(self, m: Measurement) -> str:
        if m.error is not None:
            return m.error
        expected = self.corpus(m.corpus).elements
        if m.elements is not None and m.elements != expected:
            return f"saw {m.elements} top-level elements, the corpus has {expected}"
        return ""


def _label(key: str) -> str:
    return next((c.label for c in CONTENDERS if c.key == key), key)


def _chunk(size: int) -> str:
    return f"{size // 1024} KiB" if size % 1024 == 0 else f"{size} B"


def _megabytes(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"


def _mib(n: int | None) -> str:
    return "n/a" if n is None else f"{n / 2**20:.1f} MiB"


def _align(rows: Sequence[Sequence[str]], right: set[int]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
    return lines


def format_table(report: Report) -> str:
    """The results as aligned text: one row per corpus, chunk size and contender."""
    out = []
    machine = report.machine
    out.append(
        f"xmppwire {machine.get('xmppwire', '?')} bench on {machine.get('cpu', '?')}, "
        f"{machine.get('cpus', '?')} CPUs, {machine.get('python', '?')}, {machine.get('os', '?')}"
    )
    libs = ", ".join(
        f"{k} {v}"
        for k, v in machine.items()
        if k in ("expat", "lxml", "slixmpp", "aioxmpp", "twisted")
    )
    if libs:
        out.append(f"versions: {libs}")
    if report.command:
        out.append(f"command: {report.command}")
    for c in report.corpora:
        out.append(
            f"corpus {c.name}: {_megabytes(c.size)}, {c.elements:,} top-level elements "
            f"({c.description}), seed {report.seed}"
        )
    out.append("")
    rows: list[list[str]] = [
        ["corpus", "chunk", "contender", "MB/s", "stanzas/s", "peak RSS", "x expat", "note"]
    ]
    previous = None
    for m in report.results:
        group = (m.corpus, m.chunk)
        if previous is not None and group != previous:
            rows.append([""] * len(rows[0]))
        previous = group
        mbs = report.mb_per_s(m)
        sps = report.stanzas_per_s(m)
        ratio = report.ratio(m)
        rows.append(
            [
                m.corpus,
                _chunk(m.chunk),
                _label(m.contender),
                "-" if mbs is None else f"{mbs:.1f}",
                "-" if sps is None else f"{sps:,.0f}",
                "-" if m.seconds is None else _mib(m.peak_rss),
                "-" if ratio is None else f"{ratio:.2f}",
                report.note(m),
            ]
        )
    out.extend(_align(rows, right={3, 4, 5, 6}))
    out.append("")
    runs = f"fastest of {report.repeat} runs" if report.repeat > 1 else "one run"
    legend = (
        f"MB/s: 10^6 bytes of the corpus per second, fed chunk by chunk, {runs}. "
        "stanzas/s: top-level elements per second. peak RSS: growth of the peak "
        "resident set during the run, in a process forked for that run alone. "
        "x expat: speed relative to pyexpat without handlers on the same corpus and chunking."
    )
    out.extend(textwrap.wrap(legend, 100, break_on_hyphens=False))
    used = {m.contender for m in report.results}
    for contender in CONTENDERS:
        if contender.key in used:
            out.append(f"  {contender.label}: {contender.how}")
    return "\n".join(out) + "\n"


def format_json(report: Report) -> str:
    results: list[dict[str, Any]] = []
    for m in report.results:
        row = asdict(m)
        row["label"] = _label(m.contender)
        row["mb_per_s"] = report.mb_per_s(m)
        row["stanzas_per_s"] = report.stanzas_per_s(m)
        row["vs_expat"] = report.ratio(m)
        row["note"] = report.note(m)
        results.append(row)
    return (
        json.dumps(
            {
                "machine": report.machine,
                "command": report.command,
                "seed": report.seed,
                "repeat": report.repeat,
                "corpora": [asdict(c) for c in report.corpora],
                "results": results,
            },
            indent=2,
        )
        + "\n"
    )
