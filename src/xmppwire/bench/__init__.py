"""``python -m xmppwire bench``: xmppwire against expat, ElementTree, lxml and XMPP libraries.

Every contender gets the same generated client streams (:mod:`.corpus`), cut
into the same chunks, for one timed run each; :mod:`.runners` holds the
contenders, :mod:`.report` the table.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from importlib import metadata
from typing import TextIO

from .corpus import CORPORA, DEFAULT_SEED, generate
from .report import CorpusInfo, Report, busy_warning, format_json, format_table
from .runners import CONTENDERS, Measurement, by_key

__all__ = ["CONTENDERS", "CORPORA", "DEFAULT_SEED", "Report", "format_json", "format_table", "run"]

DEFAULT_SIZE = 20_000_000
DEFAULT_CHUNKS = (4096, 65536)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, str]:
    """What the numbers depend on: CPU, interpreter, library versions."""
    import pyexpat

    import xmppwire

    info = {
        "xmppwire": xmppwire.__version__,
        "implementation": xmppwire.IMPLEMENTATION,
        "cpu": _cpu_model(),
        "cpus": str(os.cpu_count()),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "os": f"{platform.system()} {platform.release()} {platform.machine()}",
        "expat": pyexpat.EXPAT_VERSION.removeprefix("expat_"),
    }
    for dist in ("lxml", "slixmpp", "aioxmpp", "twisted"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            info[dist] = metadata.version(dist)
    return info


def run(
    *,
    size: int = DEFAULT_SIZE,
    chunks: Sequence[int] = DEFAULT_CHUNKS,
    corpora: Sequence[str] = CORPORA,
    contenders: Sequence[str] | None = None,
    seed: int = DEFAULT_SEED,
    repeat: int = 1,
    progress: TextIO | None = sys.stderr,
    command: str = "",
) -> Report:
    """Generate the corpora, run every contender on each corpus at each chunk size.

    Each contender is timed over ``repeat`` runs, in rounds over all of them;
    the fastest counts and the median shows the spread. A warning goes to
    ``progress`` when the load average says the machine is busy at the start.

    The runs happen in a fresh interpreter that forks once per run, so each
    run's peak memory is its own; progress lines go to ``progress``.
    """
    selected = by_key(contenders)
    if not selected:
        raise ValueError("no contender selected")
    if any(c < 1 for c in chunks):
        raise ValueError("chunk sizes must be positive")
    if repeat < 1:
        raise ValueError("repeat must be at least 1")

    def say(text: str) -> None:
        if progress is not None:
            print(text, file=progress, flush=True)

    try:
        load: float | None = os.getloadavg()[0]
    except (AttributeError, OSError):
        load = None
    report = Report(
        machine=machine(), seed=seed, corpora=[], command=command, repeat=repeat, load=load
    )
    if report.busy():
        say(busy_warning(load, os.cpu_count() or 1))  # type: ignore[arg-type]
    with tempfile.TemporaryDirectory(prefix="xmppwire-bench-") as tmp:
        paths = {}
        for name in corpora:
            start = time.perf_counter()
            corpus = generate(name, size, seed)
            path = os.path.join(tmp, f"{name}.xml")
            with open(path, "wb") as f:
                f.write(corpus.data)
            paths[name] = path
            report.corpora.append(
                CorpusInfo(corpus.name, corpus.size, corpus.elements, corpus.description)
            )
            say(
                f"corpus {name}: {corpus.size:,} bytes, {corpus.elements:,} top-level "
                f"elements, generated in {time.perf_counter() - start:.1f} s"
            )
            del corpus
        jobs = [
            (contender.key, name, chunk)
            for name in corpora
            for chunk in chunks
            for contender in selected
        ]
        spec_path = os.path.join(tmp, "spec.json")
        with open(spec_path, "w") as f:
            json.dump(
                {
                    "corpora": paths,
                    "contenders": [c.key for c in selected],
                    "jobs": jobs,
                    "repeat": repeat,
                },
                f,
            )
        worker = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys; from xmppwire.bench.runners import worker_main; "
                "sys.exit(worker_main(sys.argv[1]))",
                spec_path,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert worker.stdout is not None
        for line in worker.stdout:
            if line.startswith("{"):
                report.results.append(Measurement.from_json(line))
            else:
                say(line.rstrip("\n"))
        status = worker.wait()
    if status != 0 or len(report.results) != len(jobs):
        raise RuntimeError(
            f"the benchmark worker exited with status {status} after "
            f"{len(report.results)} of {len(jobs)} runs"
        )
    return report
