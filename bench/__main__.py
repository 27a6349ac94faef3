"""Command line: ``python -m bench [options]`` runs the capacity benchmark and writes bench/results/.

Set DATABASE_URL (postgres://) and REDIS_URL to run on PostgreSQL and Redis,
as deployed. Without them the servers use an SQLite file and the in-memory
channel layer. docs/benchmarks.md explains every figure.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from bench.database import DEFAULT_DATABASE_NAME
from bench.load_step import StepTiming
from bench.report import format_report, machine_info, source_revision, summarize, write_json
from bench.run import DEFAULT_STEPS, DEFAULT_TRANSCRIPTION_STEPS, PARTS, BenchOptions, run_benchmark

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = PROJECT_ROOT / "bench" / "results"


def _counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of integers") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give one or more positive integers")
    return counts


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number above 0")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give an integer of 1 or more")
    return value


def _parts(text: str) -> tuple[str, ...]:
    parts = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = sorted(set(parts) - set(PARTS))
    if unknown or not parts:
        raise argparse.ArgumentTypeError(f"unknown part(s) {unknown}: choose from {', '.join(PARTS)}")
    return parts


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    joined = ",".join
    parser.add_argument("--steps", type=_counts, default=list(DEFAULT_STEPS),
                        help=f"stream counts of the capacity ladder (default: {joined(map(str, DEFAULT_STEPS))})")
    parser.add_argument("--max-streams", type=_positive_int, default=1000,
                        help="cap on concurrent streams; steps above it are skipped (default: 1000)")
    parser.add_argument("--window", type=_positive_float, default=8.0,
                        help="measured seconds per ladder step, after the warm-up (default: 8)")
    parser.add_argument("--warmup", type=_positive_float, default=3.0,
                        help="seconds of streaming before each window (default: 3)")

    parser.add_argument("--transcription-steps", type=_counts, default=list(DEFAULT_TRANSCRIPTION_STEPS),
                        help=f"stream counts with pocketsphinx (default: {joined(map(str, DEFAULT_TRANSCRIPTION_STEPS))})")
    parser.add_argument("--max-transcribed-streams", type=_positive_int, default=16,
                        help="cap on pocketsphinx streams (default: 16)")
    parser.add_argument("--transcription-window", type=_positive_float, default=15.0,
                        help="measured seconds per pocketsphinx step (default: 15)")

    parser.add_argument("--phase-seconds", type=_positive_float, default=4.0,
                        help="seconds per handshake or REST measurement (default: 4)")
    parser.add_argument("--rounds", type=_positive_int, default=3,
                        help="rounds of the handshake and REST measurements; the median is reported (default: 3)")

    parser.add_argument("--parts", type=_parts, default=PARTS,
                        help=f"comma-separated parts to run (default: {joined(PARTS)})")
    parser.add_argument("--audio", type=Path,
                        help="16 kHz 16-bit mono WAV to loop (default: the WAV files of $MEETING_AUDIO_DIR, "
                        "else demo/meeting-sample-16k.wav)")
    parser.add_argument("--database-name", default=DEFAULT_DATABASE_NAME,
                        help=f"PostgreSQL database created and dropped for the run (default: {DEFAULT_DATABASE_NAME})")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR,
                        help="folder for <timestamp>.json and the server logs (default: bench/results)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    # httpx logs every request at INFO.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    options = BenchOptions(
        steps=args.steps,
        max_streams=args.max_streams,
        timing=StepTiming(warmup_seconds=args.warmup, window_seconds=args.window),
        transcription_steps=args.transcription_steps,
        max_transcribed_streams=args.max_transcribed_streams,
        transcription_timing=StepTiming(
            warmup_seconds=2.0, window_seconds=args.transcription_window, tail_seconds=4.0
        ),
        phase_seconds=args.phase_seconds,
        rounds=args.rounds,
        parts=args.parts,
        audio_file=args.audio,
        database_name=args.database_name,
        log_dir=args.output / f"{stamp}-logs",
    )
    machine = machine_info()
    started = time.monotonic()
    results = run_benchmark(options)
    results["machine"] = machine
    results["source"] = source_revision(PROJECT_ROOT)
    results["command"] = " ".join(["python -m bench", *(sys.argv[1:] if argv is None else argv)])
    results["duration_seconds"] = round(time.monotonic() - started, 1)
    results["summary"] = summarize(results)

    print(format_report(results))
    path = args.output / f"{stamp}.json"
    write_json(results, path)
    print(f"\nResults: {path} ({results['duration_seconds']:.0f} s); server logs: {options.log_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
