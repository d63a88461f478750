"""Command line: ``xmppwire bench`` and ``xmppwire split FILE`` (or ``python -m xmppwire ...``)."""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
from collections.abc import Iterator
from dataclasses import fields
from typing import BinaryIO, TextIO

from . import _impl
from .errors import LocalProtocolError, RemoteProtocolError
from .events import (
    XML_NS,
    ElementReceived,
    StreamClosed,
    StreamOpened,
    TextReceived,
    WhitespaceReceived,
)
from .limits import Limits

__all__ = ["main"]

_UNITS = {
    "": 1,
    "b": 1,
    "k": 1024,
    "kib": 1024,
    "kb": 1000,
    "m": 1024**2,
    "mib": 1024**2,
    "mb": 1000**2,
    "g": 1024**3,
    "gib": 1024**3,
    "gb": 1000**3,
}


def byte_size(text: str) -> int:
    """``20MB`` (10^6), ``64KiB`` or ``64k`` (1024), ``4096``: a positive number of bytes."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _UNITS:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (try 20MB, 64KiB or 4096)")
    value = int(float(match.group(1)) * _UNITS[unit])
    if value < 1:
        raise argparse.ArgumentTypeError(f"not a positive size: {text!r}")
    return value


def _byte_sizes(text: str) -> list[int]:
    return [byte_size(part) for part in text.split(",") if part.strip()]


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


# -- bench -------------------------------------------------------------------


def _bench(args: argparse.Namespace) -> int:
    from . import bench

    command = f"{args.prog} bench" + (" " + shlex.join(args.argv) if args.argv else "")
    try:
        report = bench.run(
            size=args.size,
            chunks=args.chunk,
            corpora=args.corpus,
            contenders=args.only,
            seed=args.seed,
            repeat=args.repeat,
            progress=None if args.quiet else sys.stderr,
            command=command,
        )
    except ValueError as exc:
        print(f"xmppwire bench: {exc}", file=sys.stderr)
        return 2
    if args.json:
        sys.stdout.write(bench.format_json(report))
        return 0
    sys.stdout.write(bench.format_table(report))
    if args.consumer_rounds > 0:
        from .bench import consumer

        found = consumer.rows(
            corpora=args.corpus,
            size=args.consumer_size,
            chunk=args.chunk[0],
            rounds=args.consumer_rounds,
            seed=args.seed,
            progress=None if args.quiet else lambda text: print(text, file=sys.stderr),
        )
        sys.stdout.write(
            f"\nWhat a consumer pays after the split ({args.consumer_size:,}-byte corpora, "
            f"{args.chunk[0]:,}-byte chunks, {args.consumer_rounds} interleaved rounds):\n"
        )
        sys.stdout.write(consumer.format_table(found))
    if args.shape_rounds > 0:
        from .bench import shapes

        found_shapes = shapes.rows(
            shapes=list(shapes.SHAPES),
            size=args.shape_size,
            chunk=args.chunk[0],
            rounds=args.shape_rounds,
            progress=(lambda text: None)
            if args.quiet
            else (lambda text: print(text, file=sys.stderr)),
        )
        sys.stdout.write(
            f"\nOne input shape at a time ({args.shape_size:,} bytes each, "
            f"{args.chunk[0]:,}-byte chunks, {args.shape_rounds} interleaved rounds):\n"
        )
        sys.stdout.write(shapes.format_table(found_shapes))
    if args.jid_budget > 0:
        from .bench import jid

        if not args.quiet:
            print("timing JID parsing ...", file=sys.stderr)
        rows = jid.rows(budget=args.jid_budget)
        sys.stdout.write(
            "\nJIDs parsed per second, full JIDs (xmppwire enforces RFC 7622, the others "
            "their own rules; cold: every string new, cached: a working set of 1000):\n"
        )
        sys.stdout.write(jid.format_table(rows))
    return 0


# -- split -------------------------------------------------------------------

TLS_PROCEED = ("urn:ietf:params:xml:ns:xmpp-tls", "proceed")
SASL_SUCCESS = ("urn:ietf:params:xml:ns:xmpp-sasl", "success")


def _clark(text: str) -> tuple[str, str]:
    match = re.fullmatch(r"\{([^}]*)\}(.+)", text)
    if match is None:
        raise argparse.ArgumentTypeError(f"expected {{namespace}}name, not {text!r}")
    return match.group(1), match.group(2)


def _read_chunks(stream: BinaryIO, size: int) -> Iterator[bytes]:
    # read1 hands over what a pipe has as soon as it has it.
    read = getattr(stream, "read1", stream.read)
    while chunk := read(size):
        yield chunk


class _Splitter:
    """Feeds a captured stream to a StreamParser and prints where each event lies in it.

    Events at depth 1 cover every byte between the header and the end tag, so
    an event's offset is where the previous one ended; ``pending`` holds the
    bytes fed but not yet covered by an event.
    """

    def __init__(self, parser_class: type, limits: Limits, restart_after: set, out: TextIO):
        self.parser = parser_class(limits=limits, pause_after=restart_after)
        self.out = out
        self.pending = bytearray()
        self.pos = 0  # file offset of pending[0]
        self.stream_start = 0  # file offset where the current stream began
        self.closed = False

    def line(self, offset: int, kind: str, size: int | str, what: str = "") -> None:
        self.out.write(f"{offset:>10}  {kind:<10} {size:>8}  {what}".rstrip() + "\n")

    def advance(self, size: int) -> int:
        offset = self.pos
        del self.pending[:size]
        self.pos += size
        return offset

    def feed(self, data: bytes) -> None:
        while True:
            self.pending += data
            try:
                events = self.parser.feed(data)
            except RemoteProtocolError as exc:
                self.show(exc.events)
                raise
            self.show(events)
            if not self.parser.paused:
                return
            # What follows the pausing element is all that is pending: the
            # next stream's bytes, fed again from its first byte.
            data = self.parser.take_unparsed()
            self.pending.clear()
            self.parser.reset()
            self.stream_start = self.pos
            self.closed = False
            self.line(self.pos, "restart", "", "a new stream begins")

    def show(self, events: list) -> None:
        for event in events:
            cls = event.__class__
            if cls is ElementReceived:
                offset = self.advance(len(event.raw))
                self.line(offset, "element", len(event.raw), event.tag)
            elif cls is WhitespaceReceived:
                offset = self.advance(len(event.raw))
                self.line(offset, "whitespace", len(event.raw))
            elif cls is TextReceived:
                offset = self.advance(len(event.raw))
                self.line(offset, "text", len(event.raw), repr(event.text[:40]))
            elif cls is StreamOpened:
                self.show_header(event)
            elif cls is StreamClosed:
                size = self.pending.find(b">") + 1 if self.pending.startswith(b"</") else 0
                offset = self.advance(size)
                self.line(offset, "close", size, "(self-closing header)" if not size else "")
                self.closed = True

    def show_header(self, event: StreamOpened) -> None:
        header = event.header
        before = self.pending.find(header.raw)
        self.advance(before)
        offset = self.advance(len(header.raw))
        version = None if header.version is None else "{}.{}".format(*header.version)
        fields_ = [
            f"{name}={value}" if name == "version" else f"{name}={value!r}"
            for name, value in (
                ("to", header.to),
                ("from", header.from_),
                ("id", header.id),
                ("version", version),
                ("xml:lang", header.lang),
                ("content-namespace", header.content_namespace),
                ("stream-prefix", header.stream_prefix),
            )
            if value is not None
        ]
        others = [
            f"xmlns:{p}={u!r}"
            for p, u in header.namespaces
            if p not in (None, header.stream_prefix)
        ]
        others += [f"{k}={v!r}" for k, v in header.attributes if k not in _HEADER_FIELDS]
        self.line(offset, "header", len(header.raw), " ".join(fields_ + others))


_HEADER_FIELDS = frozenset({"to", "from", "id", "version", f"{{{XML_NS}}}lang"})


def _split(args: argparse.Namespace) -> int:
    impls = _impl.implementations()
    name = _impl.IMPLEMENTATION if args.implementation == "auto" else args.implementation
    if name not in impls:
        print("xmppwire split: the compiled implementation isn't built here", file=sys.stderr)
        return 2
    limits = Limits(
        **{
            f.name: getattr(args, "limit_" + f.name)
            for f in fields(Limits)
            if getattr(args, "limit_" + f.name) is not None
        }
    )
    restart_after = (
        set() if args.no_restart else set(args.restart_after or (TLS_PROCEED, SASL_SUCCESS))
    )
    where = "<stdin>" if args.file == "-" else args.file
    try:
        source = sys.stdin.buffer if args.file == "-" else open(args.file, "rb")  # noqa: SIM115
    except OSError as exc:
        print(f"xmppwire split: {exc}", file=sys.stderr)
        return 2
    splitter = _Splitter(impls[name].tokenizer.StreamParser, limits, restart_after, sys.stdout)
    try:
        with source:
            for chunk in _read_chunks(source, args.chunk):
                splitter.feed(chunk)
            parser = splitter.parser
            open_between_stanzas = parser.header is not None and not splitter.closed
            if args.allow_open and open_between_stanzas and not splitter.pending:
                # A live stream captured between two stanzas: nothing is lost.
                splitter.line(splitter.pos, "end", "", "input ended with the stream open")
                return 0
            splitter.show(parser.close())
            return 0
    except RemoteProtocolError as exc:
        offset = splitter.stream_start + exc.offset if exc.offset is not None else splitter.pos
        splitter.line(offset, "error", "", f"{exc.condition}: {exc.message}")
        sys.stdout.flush()
        print(
            f"xmppwire split: {where}: {exc.condition} at byte {offset}: {exc.message}",
            file=sys.stderr,
        )
        return 1
    except LocalProtocolError as exc:  # pragma: no cover - the splitter never feeds a paused parser
        print(f"xmppwire split: {exc}", file=sys.stderr)
        return 2


# -- main --------------------------------------------------------------------


def _program_name(argv0: str) -> str:
    """How the user called us: ``python -m xmppwire`` or the ``xmppwire`` console script."""
    return "python -m xmppwire" if os.path.basename(argv0) == "__main__.py" else "xmppwire"


def _parser(prog: str) -> argparse.ArgumentParser:
    from .bench.corpus import CORPORA, DEFAULT_SEED
    from .bench.runners import CONTENDERS

    top = argparse.ArgumentParser(
        prog=prog,
        description="xmppwire, the XMPP wire layer: benchmark it, or split a captured stream.",
    )
    sub = top.add_subparsers(dest="command", metavar="COMMAND")

    contenders = "\n".join(f"  {c.key:<12} {c.label}: {c.how}" for c in CONTENDERS)
    bench = sub.add_parser(
        "bench",
        help="compare xmppwire with expat, ElementTree, lxml, slixmpp, aioxmpp and twisted",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Generate realistic XMPP client streams in memory and split them with every\n"
            "contender, fed the same bytes in the same chunks, one run each. Prints a table\n"
            "of MB/s (10^6 bytes/s), stanzas/s (top-level elements per second) and peak\n"
            "memory: the growth of the peak resident set (RSS) during the run, measured in\n"
            "a process forked for that run alone (Linux; n/a elsewhere). Progress goes to\n"
            "stderr, the table to stdout."
        ),
        epilog=f"contenders (for --only):\n{contenders}\n\ncorpora: {', '.join(CORPORA)}",
    )
    bench.add_argument(
        "--size",
        type=byte_size,
        default=20_000_000,
        metavar="SIZE",
        help="bytes per corpus: 20MB (the default, 10^6), 2MiB, 500k (1024), 200000",
    )
    bench.add_argument(
        "--chunk",
        type=_byte_sizes,
        default=[4096, 65536],
        metavar="SIZES",
        help="comma-separated chunk sizes the stream is fed in (default: 4KiB,64KiB)",
    )
    bench.add_argument(
        "--only",
        type=_names,
        default=None,
        metavar="NAMES",
        help="comma-separated contenders to run (default: all; names below)",
    )
    bench.add_argument(
        "--corpus",
        type=_names,
        default=list(CORPORA),
        metavar="NAMES",
        help=f"comma-separated corpora (default: {','.join(CORPORA)})",
    )
    bench.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"corpus seed (default: {DEFAULT_SEED})"
    )
    bench.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="N",
        help="time every contender N times, in N rounds over all of them, and keep each "
        "one's fastest run (default: 1; more steadies the numbers on a busy machine)",
    )
    bench.add_argument(
        "--consumer-rounds",
        type=int,
        default=3,
        metavar="N",
        help="interleaved rounds of the consumer table (split + to/from/type, split + "
        "ElementTree tree) printed after the stream table (default: 3; 0 leaves it out)",
    )
    bench.add_argument(
        "--consumer-size",
        type=byte_size,
        default=4_000_000,
        metavar="SIZE",
        help="bytes per corpus for the consumer table (default: 4MB)",
    )
    bench.add_argument(
        "--shape-rounds",
        type=int,
        default=2,
        metavar="N",
        help="interleaved rounds of the shapes table (one input shape at a time: prefixes, "
        "CDATA, deep nesting...; the pure twin against its small-corpus speed) printed "
        "after the consumer table (default: 2; 0 leaves it out)",
    )
    bench.add_argument(
        "--shape-size",
        type=byte_size,
        default=1_000_000,
        metavar="SIZE",
        help="bytes per shape for the shapes table (default: 1MB)",
    )
    bench.add_argument(
        "--jid-budget",
        type=float,
        default=0.5,
        metavar="SECONDS",
        help="seconds per contender and workload for the JID table printed after the "
        "stream table (default: 0.5; 0 leaves it out)",
    )
    bench.add_argument("--json", action="store_true", help="print JSON instead of the table")
    bench.add_argument("--quiet", "-q", action="store_true", help="no progress lines")
    bench.set_defaults(handler=_bench)

    split = sub.add_parser(
        "split",
        help="split a captured stream into its header and top-level elements",
        description=(
            "Feed the bytes one side of an XMPP stream sent through xmppwire's StreamParser and\n"
            "print one line per event: byte offset in the input, kind, size in bytes, and the\n"
            "element's {namespace}name (the header's fields for the header). At the first error\n"
            "print its RFC 6120 condition and offset and exit with status 1."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    split.add_argument("file", metavar="FILE", help="the captured bytes, or - for stdin")
    split.add_argument(
        "--chunk",
        type=byte_size,
        default=65536,
        metavar="SIZE",
        help="read and feed SIZE bytes at a time (default: 64KiB)",
    )
    split.add_argument(
        "--implementation",
        choices=("auto", "cython", "python"),
        default="auto",
        help=f"which twin parses (default: the active one, {_impl.IMPLEMENTATION})",
    )
    split.add_argument(
        "--restart-after",
        type=_clark,
        action="append",
        metavar="{NS}NAME",
        help="a new stream begins right after this top-level element (repeatable; default: "
        "TLS <proceed/> and SASL <success/>, as in a decrypted server-to-client capture)",
    )
    split.add_argument(
        "--no-restart", action="store_true", help="the input is one stream, no restarts"
    )
    split.add_argument(
        "--require-close",
        dest="allow_open",
        action="store_false",
        help="an input that ends before </stream:stream> is an error, even between stanzas",
    )
    defaults = Limits()
    for f in fields(Limits):
        flag = "--limit-" + f.name.removeprefix("max_").replace("_", "-")
        split.add_argument(
            flag,
            dest="limit_" + f.name,
            type=int,
            metavar="N",
            help=f"Limits.{f.name} (default: {getattr(defaults, f.name)})",
        )
    split.set_defaults(handler=_split)
    return top


def main(argv: list[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    if argv is None:
        argv = sys.argv[1:]
    prog = _program_name(sys.argv[0])
    parser = _parser(prog)
    args = parser.parse_args(argv)
    if args.command is None:
        # No command: show what there is rather than argparse's one-line complaint.
        parser.print_help()
        return 2
    args.argv = argv[1:]
    args.prog = prog
    try:
        return int(args.handler(args))
    except BrokenPipeError:
        # The reader went away (| head): not an error; keep Python from
        # complaining again while flushing at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
