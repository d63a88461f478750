"""The command line, run as users run it: ``python -m xmppwire ...`` in a subprocess."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from xmppwire import _impl
from xmppwire.bench.corpus import CORPORA
from xmppwire.bench.runners import CONTENDERS
from xmppwire.bench.shapes import SHAPES

TRANSCRIPT = Path(__file__).parents[1] / "data" / "prosody-0.12-c2s-transcript.txt"

LINE = re.compile(r"^\s*(\d+)\s+(\S+)\s+(\d+)?\s*(.*)$")


def xmppwire(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "xmppwire", *args],
        input=stdin,
        capture_output=True,
        timeout=300,
    )
    return subprocess.CompletedProcess(
        result.args, result.returncode, result.stdout.decode(), result.stderr.decode()
    )


def prosody_capture() -> bytes:
    """What Prosody sent to the first client of the transcript: three streams, two restarts."""
    text = TRANSCRIPT.read_text(encoding="utf-8")
    first_client = text.split("================ user2")[0]
    return "".join(
        line.split("RAW RECV: ", 1)[1] for line in first_client.splitlines() if "RAW RECV: " in line
    ).encode("utf-8")


def split_lines(stdout: str) -> list[tuple[int, str, int | None, str]]:
    rows = []
    for line in stdout.splitlines():
        match = LINE.match(line)
        assert match, line
        offset, kind, size, what = match.groups()
        rows.append((int(offset), kind, None if size is None else int(size), what))
    return rows


TLS = "urn:ietf:params:xml:ns:xmpp-tls"
SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
STREAMS = "http://etherx.jabber.org/streams"

EXPECTED_CAPTURE = [
    ("header", None),
    ("element", f"{{{STREAMS}}}features"),
    ("element", f"{{{TLS}}}proceed"),
    ("restart", None),
    ("header", None),
    ("element", f"{{{STREAMS}}}features"),
    ("element", f"{{{SASL}}}challenge"),
    ("element", f"{{{SASL}}}success"),
    ("restart", None),
    ("header", None),
    ("element", f"{{{STREAMS}}}features"),
    ("element", "{jabber:client}iq"),
    ("element", "{jabber:client}presence"),
    ("element", "{jabber:client}iq"),
    ("close", None),
]


def test_split_replays_a_real_server_capture(impl: _impl.Implementation, tmp_path: Path) -> None:
    data = prosody_capture()
    path = tmp_path / "prosody.xml"
    path.write_bytes(data)

    result = xmppwire("split", str(path), "--implementation", impl.name)

    assert result.returncode == 0, result.stderr
    rows = split_lines(result.stdout)
    assert [(kind, what if kind == "element" else None) for _, kind, _, what in rows] == (
        EXPECTED_CAPTURE
    )
    for offset, kind, size, what in rows:
        if kind == "element":
            piece = data[offset : offset + size]
            local = what.split("}")[1]
            assert re.match(rb"<(\w+:)?" + local.encode() + rb"[ />]", piece), (what, piece)
            assert piece.endswith(b">")
        elif kind == "header":
            piece = data[offset : offset + size]
            assert piece.startswith(b"<stream:stream ") and piece.endswith(b"'>")
        elif kind == "restart":
            assert data[offset:].startswith(b"<?xml version='1.0'?><stream:stream")
    headers = [what for _, kind, _, what in rows if kind == "header"]
    assert "id='7fc041e6-7bc2-493a-81e2-fbc19d932b9e'" in headers[0]
    assert all("from='localhost'" in h and "version=1.0" in h for h in headers)
    assert all("content-namespace='jabber:client'" in h for h in headers)
    close_offset, _, close_size, _ = rows[-1]
    assert data[close_offset:] == b"</stream:stream>" and close_size == len(b"</stream:stream>")


def test_split_reads_stdin_and_any_chunking_gives_the_same_lines(
    impl: _impl.Implementation, tmp_path: Path
) -> None:
    data = prosody_capture()
    path = tmp_path / "prosody.xml"
    path.write_bytes(data)

    whole = xmppwire("split", str(path), "--implementation", impl.name)
    piecemeal = xmppwire("split", "-", "--chunk", "7", "--implementation", impl.name, stdin=data)

    assert piecemeal.returncode == 0, piecemeal.stderr
    assert piecemeal.stdout == whole.stdout


def _insert_before(
    data: bytes, marker: bytes, insert: bytes, occurrence: int = 1
) -> tuple[bytes, int]:
    at = -1
    for _ in range(occurrence):
        at = data.index(marker, at + 1)
    return data[:at] + insert + data[at:], at


@pytest.mark.parametrize(
    ("insert", "condition"),
    [
        (b"<!-- hello -->", "restricted-xml"),
        (b"<?php echo 1 ?>", "restricted-xml"),
        (b"<x>\xff</x>", "unsupported-encoding"),
        (b"<x></y>", "not-well-formed"),
        (b"<message>&nbsp;</message>", "restricted-xml"),
    ],
    ids=["comment", "processing-instruction", "bad-utf8", "mismatched-end-tag", "entity"],
)
def test_split_stops_at_the_first_error_with_its_condition_and_offset(
    impl: _impl.Implementation, tmp_path: Path, insert: bytes, condition: str
) -> None:
    # Broken between the two iqs of the third stream: everything before it is reported.
    good = prosody_capture()
    data, at = _insert_before(good, b"<presence ", insert)
    path = tmp_path / "bad.xml"
    path.write_bytes(data)

    result = xmppwire("split", str(path), "--implementation", impl.name)

    assert result.returncode == 1
    rows = split_lines(result.stdout)
    assert [kind for _, kind, _, _ in rows[-3:]] == ["element", "element", "error"]
    assert rows[-2][3] == "{jabber:client}iq"
    offset, _, _, what = rows[-1]
    assert what.startswith(condition + ":")
    # The offset is in the file, across the two restarts before it.
    expected = at + {"unsupported-encoding": 3, "not-well-formed": 3}.get(condition, 0)
    if condition == "restricted-xml" and insert.startswith(b"<message>"):
        expected = at + len(b"<message>")
    assert offset == expected
    assert f"{condition} at byte {expected}" in result.stderr


def test_split_limits_apply(impl: _impl.Implementation, tmp_path: Path) -> None:
    data = prosody_capture()
    path = tmp_path / "prosody.xml"
    path.write_bytes(data)
    unlimited = split_lines(xmppwire("split", str(path), "--implementation", impl.name).stdout)
    limit = 150
    too_big = next(i for i, row in enumerate(unlimited) if row[1] == "element" and row[2] > limit)

    result = xmppwire(
        "split", str(path), "--implementation", impl.name, "--limit-stanza-bytes", str(limit)
    )

    assert result.returncode == 1
    rows = split_lines(result.stdout)
    assert rows[:-1] == unlimited[:too_big]
    offset, kind, _, what = rows[-1]
    assert kind == "error" and what.startswith("policy-violation:")
    assert offset == unlimited[too_big][0] + limit


def test_split_without_restarts_rejects_the_second_header(
    impl: _impl.Implementation, tmp_path: Path
) -> None:
    data = prosody_capture()
    path = tmp_path / "prosody.xml"
    path.write_bytes(data)
    second_stream = data.index(b"<?xml", 1)

    result = xmppwire("split", str(path), "--implementation", impl.name, "--no-restart")

    assert result.returncode == 1
    offset, kind, _, what = split_lines(result.stdout)[-1]
    assert (kind, offset) == ("error", second_stream)
    assert what.startswith("not-well-formed:")


def test_split_of_a_live_stream_ends_open_unless_a_close_is_required(
    impl: _impl.Implementation, tmp_path: Path
) -> None:
    data = prosody_capture().removesuffix(b"</stream:stream>")
    path = tmp_path / "open.xml"
    path.write_bytes(data)

    lenient = xmppwire("split", str(path), "--implementation", impl.name)
    strict = xmppwire("split", str(path), "--implementation", impl.name, "--require-close")
    cut = xmppwire("split", "-", "--implementation", impl.name, stdin=data[:-5])

    assert lenient.returncode == 0, lenient.stderr
    assert split_lines(lenient.stdout)[-1][:2] == (len(data), "end")
    assert strict.returncode == 1
    assert split_lines(strict.stdout)[-1][:2] == (len(data), "error")
    # Cut inside an element: its bytes would be lost, so that is an error either way.
    assert cut.returncode == 1
    offset, kind, _, what = split_lines(cut.stdout)[-1]
    assert (offset, kind) == (len(data) - 5, "error") and what.startswith("not-well-formed:")


def test_split_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    result = xmppwire("split", str(tmp_path / "nope.xml"))
    assert result.returncode == 2
    assert "nope.xml" in result.stderr


# -- bench -------------------------------------------------------------------

CHUNK_LABELS = {4096: "4 KiB", 65536: "64 KiB"}


def _installed(key: str) -> bool:
    module = {"lxml-pull": "lxml", "slixmpp": "slixmpp", "aioxmpp": "aioxmpp", "twisted": "twisted"}
    if key not in module:
        return True
    try:
        __import__(module[key])
    except ImportError:
        return False
    return True


def test_bench_prints_a_row_per_contender_corpus_and_chunking(
    request: pytest.FixtureRequest,
) -> None:
    result = xmppwire(
        "bench",
        "--size",
        "40k",
        "--jid-budget",
        "0.01",
        "--consumer-size",
        "40k",
        "--consumer-rounds",
        "1",
        "--shape-size",
        "20k",
        "--shape-rounds",
        "1",
    )

    assert result.returncode == 0, result.stderr
    rows = {}
    for line in result.stdout.splitlines():
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) >= 4 and cells[0] in CORPORA:
            rows[cells[0], cells[1], cells[2]] = cells[3:]
    compiled_expected = request.config.getoption("--c-extensions")
    for corpus in CORPORA:
        for chunk in ("4 KiB", "64 KiB"):
            for contender in CONTENDERS:
                cells = rows[corpus, chunk, contender.label]
                mb_s = cells[0]
                if contender.key == "xmppwire-c" and "cython" not in _impl.implementations():
                    assert not compiled_expected, "the compiled twin isn't built"
                    assert mb_s == "-" and "compiled twins not built" in cells[-1]
                elif _installed(contender.key):
                    assert float(mb_s) > 0, (contender.key, cells)
                    # stanzas/s, peak RSS, speed relative to expat
                    assert re.fullmatch(r"[\d,]+", cells[1]), cells
                    # Peak RSS comes from /proc on Linux.
                    assert cells[2].endswith("MiB") or sys.platform != "linux", cells
                    assert float(cells[3]) > 0
                    assert len(cells) == 4, f"unexpected note: {cells}"
    progress = [line for line in result.stderr.splitlines() if line.startswith("[")]
    assert len(progress) == len(CORPORA) * 2 * len(CONTENDERS)
    assert "command: python -m xmppwire bench --size 40k" in result.stdout

    # The consumer table follows: per corpus and task, µs per stanza for each reader.
    consumer_table = result.stdout.split("What a consumer pays after the split", 1)[1]
    consumer_table = consumer_table.split("JIDs parsed per second", 1)[0]
    consumed = {}
    for line in consumer_table.splitlines():
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) >= 5 and cells[0] in CORPORA:
            consumed[cells[0], cells[1], cells[2]] = cells[3:]
    for corpus in CORPORA:
        for task in ("attrs", "tree"):
            for label in ("xmppwire pure Python", "ElementTree XMLPullParser (slixmpp's loop)"):
                mb_s, per_stanza, *_ = consumed[corpus, task, label]
                assert float(mb_s) > 0 and float(per_stanza) > 0
            if compiled_expected:
                assert float(consumed[corpus, task, "xmppwire compiled"][1]) > 0

    # Then one input shape at a time: the pure twin's speed, its share of its speed on
    # the small corpus, ElementTree's and the compiled twin's.
    shapes_table = result.stdout.split("One input shape at a time", 1)[1]
    shapes_table = shapes_table.split("JIDs parsed per second", 1)[0]
    shaped = {}
    for line in shapes_table.splitlines():
        cells = line.split()
        # (the descriptions below the table are indented)
        if cells and cells[0] in SHAPES and not line.startswith(" "):
            shaped[cells[0]] = cells[1:]
    assert set(shaped) == set(SHAPES)
    for cells in shaped.values():
        assert float(cells[1]) > 0 and cells[2].endswith("x") and float(cells[3]) > 0
        if compiled_expected:
            assert float(cells[4]) > 0

    # The JID table follows: one line per importable contender, a rate per workload.
    jid_table = result.stdout.split("JIDs parsed per second", 1)[1].splitlines()[1:]
    jid_rows = {cells[0]: cells[1:] for cells in (re.split(r"\s{2,}", x) for x in jid_table)}
    assert jid_rows["contender"] == [
        "ASCII, cold",
        "ASCII, cached",
        "non-ASCII, cold",
        "non-ASCII, cached",
    ]
    expected = ["xmppwire (python)"] + (["xmppwire (cython)"] if compiled_expected else [])
    for name in expected:
        assert all(int(rate.replace(",", "")) > 0 for rate in jid_rows[name]), jid_rows


def test_bench_json_reports_every_element_seen() -> None:
    result = xmppwire(
        "bench",
        "--size",
        "30k",
        "--chunk",
        "1k",
        "--corpus",
        "mix",
        "--json",
        "--quiet",
        "--shape-rounds",
        "0",
    )

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    report = json.loads(result.stdout)
    (corpus,) = report["corpora"]
    assert corpus["name"] == "mix" and corpus["size"] >= 30 * 1024
    assert [r["contender"] for r in report["results"]] == [c.key for c in CONTENDERS]
    for row in report["results"]:
        assert row["chunk"] == 1024
        if row["error"] is None:
            assert row["elements"] in (None, corpus["elements"]), row
            assert row["mb_per_s"] > 0 and row["stanzas_per_s"] > 0
    python_twin = next(r for r in report["results"] if r["contender"] == "xmppwire-py")
    assert python_twin["error"] is None and python_twin["elements"] == corpus["elements"]


def test_no_command_prints_the_commands() -> None:
    result = xmppwire()
    assert result.returncode == 2
    assert result.stdout.startswith("usage: python -m xmppwire [-h] COMMAND ...")
    for command in ("bench", "split"):
        assert re.search(rf"^\s+{command}\s+\S", result.stdout, re.MULTILINE), result.stdout


def test_console_script_names_itself_in_its_help() -> None:
    """The ``xmppwire`` command pip installed says ``usage: xmppwire``."""
    name = "xmppwire.exe" if sys.platform == "win32" else "xmppwire"
    script = Path(sysconfig.get_path("scripts")) / name
    if not script.exists():
        pytest.fail(f"the console script {script} is not installed")
    result = subprocess.run([str(script), "split", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    assert result.stdout.startswith("usage: xmppwire split [-h]")
    assert "python -m" not in result.stdout
    bare = subprocess.run([str(script)], capture_output=True, text=True)
    assert bare.returncode == 2
    assert bare.stdout.startswith("usage: xmppwire [-h] COMMAND ...")


def test_bench_help_documents_its_options() -> None:
    result = xmppwire("bench", "--help")
    assert result.returncode == 0
    for option in ("--size", "--chunk", "--only", "--json", "--corpus"):
        assert option in result.stdout
    for contender in CONTENDERS:
        assert contender.key in result.stdout


def test_bench_rejects_an_unknown_contender() -> None:
    result = xmppwire("bench", "--only", "expat,sax9000", "--size", "1k")
    assert result.returncode == 2
    assert "sax9000" in result.stderr


def test_bench_shows_the_spread_of_its_repeats_and_aligns_its_progress() -> None:
    result = xmppwire(
        "bench", "--size", "20k", "--repeat", "3", "--only", "xmppwire-py,expat",
        "--corpus", "small,pretty", "--jid-budget", "0", "--shape-rounds", "0",
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    header = next(line for line in result.stdout.splitlines() if line.startswith("corpus  chunk"))
    assert re.split(r"\s{2,}", header.strip()) == [
        "corpus", "chunk", "contender", "MB/s", "median", "stanzas/s", "peak RSS", "x expat",
    ]  # fmt: skip
    for line in result.stdout.splitlines():
        cells = re.split(r"\s{2,}", line.strip())
        if cells[0] in ("small", "pretty"):
            fastest, median = float(cells[3]), float(cells[4])
            assert 0 < median <= fastest, cells
    assert "the fastest of 3 runs" in result.stdout
    assert "note" not in header
    progress = [line for line in result.stderr.splitlines() if line.startswith("[")]
    assert len(progress) == 2 * 2 * 2 * 3
    # one column per field: the speeds end where every other line's end
    assert len({line.index(" MB/s") for line in progress}) == 1, progress


def test_bench_table_warns_of_a_busy_machine_and_explains_its_notes() -> None:
    from xmppwire.bench.report import CorpusInfo, Report, format_table
    from xmppwire.bench.runners import Measurement

    report = Report(
        machine={"cpus": "2"},
        seed=1,
        corpora=[CorpusInfo("small", 1000, 5, "test")],
        load=3.5,
        results=[
            Measurement("expat", "small", 4096, 1000, seconds=0.001, median_seconds=0.002),
            Measurement("lxml-pull", "small", 4096, 1000, error="lxml not installed"),
        ],
    )
    assert report.busy()
    table = format_table(report)
    assert "warning: the machine was busy when the run began (load average 3.50 on 2 CPUs)" in table
    assert re.split(r"\s{2,}", table.splitlines()[4].strip())[-1] == "note"
    assert "lxml not installed" in table
    assert "note: why a row has no number" in " ".join(table.split())
    quiet = Report(machine={"cpus": "2"}, seed=1, corpora=report.corpora, load=0.2)
    quiet.results = report.results[:1]
    assert not quiet.busy()
    assert "warning" not in format_table(quiet) and "note" not in format_table(quiet)
