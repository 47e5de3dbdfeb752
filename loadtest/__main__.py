"""`python -m loadtest`: seed a throwaway class, start the app, drive student sessions, print the figures.
Exit 0 with no failed question, 1 with any, 2 on bad input (`error: …`)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.config import Settings
from core.errors import ClassGPTError


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m loadtest",
        description="Seed a throwaway database with a class and N students, start `streamlit run app.py`, and drive "
                    "N sessions as a browser does (login form, Chat page, chat input) over Streamlit's websocket, "
                    "each asking at exponential gaps of mean --interval s. Prints ask p50/p95 idle, then while "
                    "--uploads files are ingested by a separate process, errors, questions/s and the loaded/idle "
                    "p95 ratio. --find-max ramps the question rate instead. docs/load.md says how to read it.")
    add = p.add_argument
    add("--sessions", type=int, default=20, help="concurrent student sessions (default 20)")
    add("--interval", type=float, default=10.0, help="mean seconds between one session's questions (default 10)")
    add("--duration", type=float, default=120.0, help="seconds of the loaded phase (default 120)")
    add("--idle-duration", type=float, help="seconds of the idle phase (default: --duration)")
    add("--uploads", type=int, default=3, help="files ingested in the background while loaded (default 3)")
    add("--instances", default="1", help="app servers sharing the sessions; with --find-max a comma-separated list, "
                                         "each measured in turn (e.g. 1,2). More than 1 needs --postgres")
    add("--postgres", metavar="URL", help="a PostgreSQL server (any database on it): the benchmark makes a throwaway "
                                          "database there and drops it after (default: SQLite)")
    add("--documents", nargs="+", metavar="FILE_OR_DIR",
        help="the class's material (default: the CS229 and probability cheat sheets in ../shared/data)")
    add("--upload-files", nargs="+", metavar="FILE_OR_DIR",
        help="files for --uploads (default: NYU deep-learning slide decks in ../shared/data)")
    add("--questions", metavar="FILE", help="questions, one a line (default: a built-in list about the cheat sheets)")
    add("--timeout", type=float, default=60.0, help="seconds before an unanswered question is an error (default 60)")
    add("--seed", type=int, default=0, help="the question order and gaps (default 0)")
    add("--find-max", action="store_true", help="ramp the question rate (x1.5 a step) until p95 >= --target-p95-ms, "
                                                "an error, or questions going out that late")
    add("--start-rate", type=float, default=2.0, help="--find-max: questions/s of the first step (default 2)")
    add("--step-duration", type=float, default=30.0, help="--find-max: seconds per step (default 30)")
    add("--max-steps", type=int, default=8, help="--find-max: at most this many steps (default 8)")
    add("--target-p95-ms", type=float, default=1000.0, help="--find-max: the p95 to stay under (default 1000)")
    add("--logs", default=str(Path("artifacts") / "load"), metavar="DIR",
        help="where the servers', worker's and ingest's output is kept (default artifacts/load)")
    add("--json", action="store_true", help="print the result as JSON")
    return p


def main(argv: list[str] | None = None) -> int:
    from loadtest import bench

    args = parser().parse_args(argv)
    try:
        settings = Settings()
        plan = bench.LoadPlan(
            sessions=args.sessions, interval_s=args.interval, duration_s=args.duration,
            idle_duration_s=args.idle_duration, uploads=args.uploads,
            instances=tuple(int(n) for n in args.instances.split(",")), postgres=args.postgres,
            embedder=settings.embedder, timeout_s=args.timeout, seed=args.seed, find_max=args.find_max,
            start_rate=args.start_rate, step_duration_s=args.step_duration, max_steps=args.max_steps,
            target_p95_ms=args.target_p95_ms, logs=Path(args.logs))
        if args.documents:
            plan.documents = [Path(p) for p in args.documents]
        if args.upload_files:
            plan.upload_files = [Path(p) for p in args.upload_files]
        if args.questions:
            plan.questions = [q.strip() for q in Path(args.questions).read_text(encoding="utf-8").splitlines()
                              if q.strip()]
        result = bench.bench_load(plan, progress=None if args.json else _progress)
    except ClassGPTError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2, default=str) if args.json else bench.format_bench_load(result))
    return 1 if result.get("errors") else 0


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
