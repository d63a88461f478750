"""The benchmark's output: an aligned text table, or JSON."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from .runners import CONTENDERS, Measurement, chunk_label

__all__ = ["CorpusInfo", "Report", "format_json", "format_table"]

BASELINE = "expat"
#: Load average per CPU above which the machine counts as busy.
BUSY_LOAD = 0.3


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
    #: The one-minute load average when the run began, where the system tells it.
    load: float | None = None

    def busy(self) -> bool:
        """Whether other work was running at the start: timings then read low."""
        cpus = int(self.machine.get("cpus") or 1)
        return self.load is not None and self.load > BUSY_LOAD * cpus

    def corpus(self, name: str) -> CorpusInfo:
        return next(c for c in self.corpora if c.name == name)

    def mb_per_s(self, m: Measurement) -> float | None:
        return m.size / m.seconds / 1e6 if m.seconds else None

    def median_mb_per_s(self, m: Measurement) -> float | None:
        return m.size / m.median_seconds / 1e6 if m.median_seconds else None

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


def busy_warning(load: float, cpus: int) -> str:
    return (
        f"warning: the machine was busy when the run began (load average {load:.2f} "
        f"on {cpus} CPUs): timings may read low and vary; --repeat helps"
    )


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
    if report.busy():
        out.append(busy_warning(report.load, int(machine.get("cpus") or 1)))  # type: ignore[arg-type]
    for c in report.corpora:
        out.append(
            f"corpus {c.name}: {_megabytes(c.size)}, {c.elements:,} top-level elements "
            f"({c.description}), seed {report.seed}"
        )
    out.append("")
    spread = report.repeat > 1
    notes = any(report.note(m) for m in report.results)
    header = ["corpus", "chunk", "contender", "MB/s"]
    if spread:
        header.append("median")
    header += ["stanzas/s", "peak RSS", "x expat"]
    if notes:
        header.append("note")
    rows: list[list[str]] = [header]
    previous = None
    for m in report.results:
        group = (m.corpus, m.chunk)
        if previous is not None and group != previous:
            rows.append([""] * len(header))
        previous = group
        mbs = report.mb_per_s(m)
        sps = report.stanzas_per_s(m)
        ratio = report.ratio(m)
        row = [m.corpus, chunk_label(m.chunk), _label(m.contender)]
        row.append("-" if mbs is None else f"{mbs:.1f}")
        if spread:
            median = report.median_mb_per_s(m)
            row.append("-" if median is None else f"{median:.1f}")
        row += [
            "-" if sps is None else f"{sps:,.0f}",
            "-" if m.seconds is None else _mib(m.peak_rss),
            "-" if ratio is None else f"{ratio:.2f}",
        ]
        if notes:
            row.append(report.note(m))
        rows.append(row)
    numbers = set(range(3, len(header) - (1 if notes else 0)))
    out.extend(_align(rows, right=numbers))
    out.append("")
    if spread:
        runs = (
            f"the fastest of {report.repeat} runs, interleaved with the other contenders' "
            "(median: their median, the other end of the spread)"
        )
    else:
        runs = "one run"
    legend = (
        f"MB/s: 10^6 bytes of the corpus per second, fed chunk by chunk, {runs}. "
        "stanzas/s: top-level elements per second. peak RSS: growth of the peak "
        "resident set during the run, in a process forked for that run alone. "
        "x expat: speed relative to pyexpat without handlers on the same corpus and chunking"
        " (fastest runs)."
    )
    if notes:
        legend += (
            " note: why a row has no number, or that a contender saw another number of "
            "top-level elements than the corpus holds."
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
        row["median_mb_per_s"] = report.median_mb_per_s(m)
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
                "load_average": report.load,
                "corpora": [asdict(c) for c in report.corpora],
                "results": results,
            },
            indent=2,
        )
        + "\n"
    )
