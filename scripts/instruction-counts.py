#!/usr/bin/env python3
"""Instructions per KB of the compiled tokenizer on each bench corpus, against a baseline.

Timings on a shared machine swing by tens of percent; instruction counts under
``valgrind --tool=callgrind`` do not depend on the load. This script generates
each corpus of ``python -m xmppwire bench`` (fixed seed and size), then feeds it
in fixed 4 KiB chunks to the compiled ``StreamParser`` in a child process run
under callgrind, counting only the instructions executed inside ``feed()``
(``--toggle-collect``), with ``PYTHONHASHSEED=0``. The result is instructions per
1024 bytes of corpus.

    python scripts/instruction-counts.py            # compare with the baseline
    python scripts/instruction-counts.py --update   # write the baseline

It exits with status 1 when a corpus costs more than 3% (``--tolerance``) over
``benchmarks/instruction-baseline.json``. Raising the baseline is a deliberate
commit of that file, saying why.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "benchmarks" / "instruction-baseline.json"
SIZE = 1_000_000
CHUNK = 4096
SEED = 6120
TOLERANCE = 0.03
# Cython's wrapper of StreamParser.feed: everything feed() runs is counted, the
# Python loop around it is not.
FEED_SYMBOL = "*StreamParser_*feed"

CHILD = """
import sys
from xmppwire._tokenizer_c import StreamParser
with open(sys.argv[1], "rb") as f:
    data = f.read()
chunks = [data[i : i + {chunk}] for i in range(0, len(data), {chunk})]
feed = StreamParser().feed
for chunk in chunks:
    feed(chunk)
"""


def count(corpus_path: str, out_dir: str) -> int:
    """Instructions callgrind counted inside feed() while the child parsed the corpus."""
    out_file = os.path.join(out_dir, "callgrind.out")
    env = dict(os.environ, PYTHONHASHSEED="0", XMPPWIRE_NO_EXTENSIONS="")
    subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            f"--toggle-collect={FEED_SYMBOL}",
            f"--callgrind-out-file={out_file}",
            sys.executable,
            "-c",
            CHILD.format(chunk=CHUNK),
            corpus_path,
        ],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    with open(out_file) as f:
        for line in f:
            if line.startswith("summary:") or line.startswith("totals:"):
                return int(line.split()[1])
    raise RuntimeError("callgrind wrote no summary")


def measure(corpora: list[str]) -> dict[str, float]:
    from xmppwire.bench.corpus import generate

    results = {}
    with tempfile.TemporaryDirectory(prefix="xmppwire-ir-") as tmp:
        for name in corpora:
            corpus = generate(name, SIZE, SEED)
            path = os.path.join(tmp, f"{name}.xml")
            with open(path, "wb") as f:
                f.write(corpus.data)
            results[name] = round(count(path, tmp) / (corpus.size / 1024), 1)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--update", action="store_true", help="write the baseline file")
    parser.add_argument(
        "--tolerance",
        type=float,
        default=TOLERANCE,
        help=f"allowed growth over the baseline (default {TOLERANCE})",
    )
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    import xmppwire.bench.corpus as corpus_module

    try:
        import xmppwire._tokenizer_c  # noqa: F401
    except ImportError as exc:
        print(f"the compiled tokenizer is not built: {exc}", file=sys.stderr)
        return 2
    results = measure(list(corpus_module.CORPORA))
    if args.update:
        BASELINE.write_text(
            json.dumps(
                {
                    "what": "callgrind instructions inside the compiled StreamParser.feed per "
                    f"1024 bytes of corpus; {SIZE} bytes per corpus, seed {SEED}, "
                    f"{CHUNK}-byte chunks; scripts/instruction-counts.py",
                    "instructions_per_kb": results,
                },
                indent=2,
            )
            + "\n"
        )
        for name, value in results.items():
            print(f"{name:8} {value:10.1f} instructions/KB (baseline written)")
        return 0
    baseline = json.loads(BASELINE.read_text())["instructions_per_kb"]
    failed = False
    for name, value in results.items():
        base = baseline.get(name)
        if base is None:
            print(f"{name:8} {value:10.1f} instructions/KB, no baseline")
            failed = True
            continue
        change = value / base - 1
        verdict = "ok"
        if change > args.tolerance:
            verdict = f"FAIL: more than {args.tolerance:.0%} over the baseline"
            failed = True
        against = f"baseline {base:.1f} ({change:+.1%})"
        print(f"{name:8} {value:10.1f} instructions/KB, {against} {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
