"""`python -m loadtest`: many students asking at once, through the real app's websocket.

The system: a throwaway database (SQLite, or a fresh database on `--postgres`'s server) with an
instructor, a class holding real documents and N enrolled students, seeded before the servers start;
then `streamlit run app.py` servers (`--instances`) over it. Each student is a session of
streamlit_client.py, which speaks to /_stcore/stream as a browser's frontend does: it logs in
through the login form, opens the Chat page and asks through the chat input. A session asks at
exponential gaps (mean `--interval` s: a Poisson stream, as independent students are), and waits
for its answer before it asks again, as a person does. Sessions are spread over the instances.

Per question: the time from sending it to the end of the run that shows the answer (Chat reruns
once the answer is stored; the page it then renders holds the answer and its sources), and
whether that page shows the question's answer with citations and no error. A disconnect or a
run that does not finish within `--timeout` counts as an error too, and the session logs in again.

Phases, in one run: a warm-up (one question per session, all at once: the model loads and the
class index is built; out of the latency figures, but its errors count), idle (`--idle-duration`, no uploads), then loaded (`--duration`, while
`--uploads` files are ingested in the background by a separate process: system.IngestRun).
`--find-max` instead ramps the question rate step by step and reports the highest that keeps
p95 under the target with no errors, for each instance count given.
"""
from __future__ import annotations

import asyncio
import os
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from core.errors import IngestError, ValidationError
from core.measure.eval_coverage import percentiles
from loadtest.system import IngestRun, Seeded, app_env, app_servers, seed, server_ask_ms, throwaway_database
from loadtest.sessions import Run, Student, summary

DATA = Path("..") / "shared" / "data" / "course_pdfs"
DEFAULT_DOCUMENTS = [DATA / "stanford_cs229_cheatsheets", DATA / "probability_cheatsheet"]
# the largest decks first (39, 30, 23 pages...): --uploads N takes the first N
DEFAULT_UPLOADS = [DATA / "nyu_dlsp20_slides" / name for name in
                   ("12 - EBM.pdf", "04 - RNN.pdf", "02 - CNN.pdf", "07 - Regularisation.pdf",
                    "00 - Logic neurons.pdf")]
# what the class's material (CS229 cheat sheets, the Stat 110 probability cheat sheet) answers
DEFAULT_QUESTIONS = [
    "What is overfitting?", "What is the bias-variance tradeoff?", "What is k-means clustering?",
    "What is a convolutional neural network?", "What is Bayes' rule?", "What is logistic regression?",
    "How does gradient descent work?", "What is regularization?", "What is principal component analysis?",
    "What is a support vector machine?", "What is cross-validation?", "What is the sigmoid function?",
    "What is a confusion matrix?", "What is the expectation maximization algorithm?",
    "What is the variance of a random variable?", "What is a Poisson distribution?",
    "What is dropout?", "What is batch normalization?", "What is the law of total probability?",
    "What is Newton's method?", "What is a recurrent neural network?", "What is the ROC curve?",
    "What is hierarchical clustering?", "What is a Markov chain?",
]
FIND_MAX_FACTOR = 1.5  # each step offers this many times the previous step's question rate


@dataclass
class LoadPlan:
    sessions: int = 20
    interval_s: float = 10.0
    duration_s: float = 120.0
    idle_duration_s: float | None = None  # default: duration_s
    uploads: int = 3
    instances: Sequence[int] = (1,)
    documents: Sequence[Path] = tuple(DEFAULT_DOCUMENTS)
    upload_files: Sequence[Path] = tuple(DEFAULT_UPLOADS)
    questions: Sequence[str] = tuple(DEFAULT_QUESTIONS)
    postgres: str | None = None
    embedder: str = "minilm"
    timeout_s: float = 60.0
    seed: int = 0
    find_max: bool = False
    start_rate: float = 2.0
    step_duration_s: float = 30.0
    max_steps: int = 8
    target_p95_ms: float = 1000.0
    workdir: Path | None = None  # the throwaway data (default: the system's temporary folder)
    logs: Path = Path("artifacts") / "load"  # server, worker and ingest output, kept after the run


def expand(paths: Sequence[Path], suffixes=(".pdf", ".pptx", ".docx")) -> list[Path]:
    """Files as given, and a folder's documents (sorted; not its READMEs and licences)."""
    out = []
    for p in map(Path, paths):
        out += sorted(f for f in p.iterdir() if f.suffix.lower() in suffixes) if p.is_dir() else [p]
    return out


def _ratio(a: dict, b: dict) -> float | None:
    x, y = a["latency"]["p95_ms"], b["latency"]["p95_ms"]
    return round(x / y, 2) if x and y else None


# ---- the whole run -------------------------------------------------------------------------------
def bench_load(plan: LoadPlan, progress: Callable[[str], None] | None = None) -> dict:
    """Run the plan; servers, workers and the throwaway database are gone when it returns."""
    main = threading.current_thread() is threading.main_thread()
    # a `timeout` or a CI's SIGTERM: clean up (stop the servers, drop the database) as on Ctrl+C
    previous = signal.signal(signal.SIGTERM, _terminated) if main else None
    try:
        return _bench_load(plan, progress)
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)


def _terminated(signum, frame) -> None:  # noqa: ANN001
    raise SystemExit(128 + signum)


def _bench_load(plan: LoadPlan, progress: Callable[[str], None] | None) -> dict:
    say = progress or (lambda _m: None)
    documents, uploads = expand(plan.documents), expand(plan.upload_files)[:plan.uploads]
    if not documents:
        raise ValidationError("no documents for the class")
    if plan.uploads and len(uploads) < plan.uploads:
        raise ValidationError(f"--uploads {plan.uploads} but only {len(uploads)} upload files")
    if max(plan.instances) > 1 and not plan.postgres:
        raise ValidationError("more than one instance needs --postgres (instances share one PostgreSQL)")
    logs = Path(plan.logs)
    logs.mkdir(parents=True, exist_ok=True)
    for old in logs.glob("*.log"):
        old.unlink()
    with tempfile.TemporaryDirectory(prefix="classgpt-load-", dir=plan.workdir) as tmp:
        work = Path(tmp)
        with throwaway_database(work, plan.postgres) as database_url:
            env = app_env(work / "data", database_url, plan.embedder)
            say(f"seeding {plan.sessions} students and a class of {len(documents)} documents …")
            seeded = seed(env, plan.sessions)
            started = time.monotonic()
            ingest = IngestRun(env, seeded.class_id, seeded.instructor, documents, logs / "seed-ingest.log")
            if ingest.wait(timeout_s=1800) != 0:
                raise IngestError("ingesting the class's documents failed:\n"
                                  + "\n".join(_tail(logs / "seed-ingest.log")))
            result = {"sessions": plan.sessions, "documents": [d.name for d in documents],
                      "seed_ingest_s": round(time.monotonic() - started, 1),
                      "database": "postgresql" if plan.postgres else "sqlite", "embedder": plan.embedder,
                      "cpu_count": os.cpu_count(), "logs": str(logs)}
            if plan.find_max:
                result["find_max"] = [_find_max(plan, env, seeded, n, logs, say) for n in plan.instances]
            else:
                result.update(_idle_then_loaded(plan, env, seeded, uploads, logs, say))
            return result


def _students(plan: LoadPlan, seeded: Seeded, urls: list[str]) -> list[Student]:
    return [Student(i, i % len(urls), urls[i % len(urls)], account, plan.timeout_s)
            for i, account in enumerate(seeded.students)]


def _idle_then_loaded(plan: LoadPlan, env: dict, seeded: Seeded, uploads: list[Path], logs: Path, say) -> dict:
    idle_s = plan.duration_s if plan.idle_duration_s is None else plan.idle_duration_s
    offered = plan.sessions / plan.interval_s
    with app_servers(env, plan.instances[0], logs) as servers:
        async def drive() -> dict:
            run = Run(_students(plan, seeded, [s.url for s in servers]), plan.questions, plan.seed)
            try:
                say(f"{plan.sessions} sessions log in on {len(servers)} instance(s) …")
                await run.open_all()
                say("warm-up: one question per session …")
                warm = summary(await run.warm_up(), 0)
                cpu0, client0, load0 = _cpu(servers), time.process_time(), os.getloadavg()[0]
                wall = [_now()]
                say(f"idle: {idle_s:.0f} s at {offered:.2f} questions/s offered …")
                idle = await run.phase("idle", idle_s, plan.interval_s)
                cpu1, client1 = _cpu(servers), time.process_time()
                wall.append(_now())
                ingest = IngestRun(env, seeded.class_id, seeded.instructor, uploads, logs / "ingest.log") \
                    if uploads else None
                say(f"loaded: {plan.duration_s:.0f} s while {len(uploads)} file(s) are ingested in the background …")
                loaded_start = run.clock()
                watcher = asyncio.create_task(_watch(ingest))
                loaded = await run.phase("loaded", plan.duration_s, plan.interval_s)
                cpu2, client2 = _cpu(servers), time.process_time()
                wall.append(_now())
                await watcher
                ingest_code = ingest.wait(timeout_s=1800) if ingest else None
            finally:
                await run.close()
            ingest_end = ingest.ended - run.t0 if ingest and ingest.ended else None
            during = [r for r in loaded if ingest_end is None or r.sent_s <= ingest_end]
            loaded_end = loaded_start + run.elapsed["loaded"]
            out = {
                "offered_per_s": round(offered, 2), "interval_s": plan.interval_s, "instances": len(servers),
                "warm_up": warm,
                "idle": summary(idle, run.elapsed["idle"]), "loaded": summary(loaded, run.elapsed["loaded"]),
                "loaded_while_ingesting": summary(during, min(ingest_end or loaded_end, loaded_end) - loaded_start),
                "uploads": [u.name for u in uploads],
                "ingest_s": round(ingest_end - loaded_start, 1) if ingest_end else None,
                "ingest_exit": ingest_code, "ingest_output": _tail(logs / "ingest.log"),
                "server_cpu_s": {"idle": round(cpu1 - cpu0, 1), "loaded": round(cpu2 - cpu1, 1)},
                "server_ask": {"idle": percentiles(server_ask_ms(env["DATABASE_URL"], wall[0], wall[1])),
                               "loaded": percentiles(server_ask_ms(env["DATABASE_URL"], wall[1], wall[2]))},
                "client_cpu_s": {"idle": round(client1 - client0, 1), "loaded": round(client2 - client1, 1)},
                "load_average_1m": [round(load0, 2), round(os.getloadavg()[0], 2)],
            }
            out["p95_ratio_loaded_to_idle"] = _ratio(out["loaded"], out["idle"])
            out["p95_ratio_while_ingesting_to_idle"] = _ratio(out["loaded_while_ingesting"], out["idle"])
            # a warm-up question that failed is a failure a student saw (e.g. at the first burst of questions)
            out["errors"] = warm["errors"] + out["idle"]["errors"] + out["loaded"]["errors"]
            return out

        return asyncio.run(drive())


def _tail(log: Path, lines: int = 12) -> list[str]:
    return log.read_text(errors="replace").splitlines()[-lines:] if log.exists() else []


def _log_note(r: dict) -> str:
    return f"  logs (servers, worker, ingest): {r['logs']}"


async def _watch(ingest: IngestRun | None) -> None:
    """Notice when the background ingestion ends (its end splits the loaded phase)."""
    while ingest is not None and ingest.poll() is None:
        await asyncio.sleep(0.5)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _cpu(servers) -> float:
    return sum(s.cpu_seconds() for s in servers)


def _find_max(plan: LoadPlan, env: dict, seeded: Seeded, instances: int, logs: Path, say) -> dict:
    """Offer more questions per second step by step; the answer is the highest achieved rate of a
    step that kept up: p95 under the target, no errors, sessions on schedule (see `holds`)."""
    with app_servers(env, instances, logs, prefix=f"find-max-{instances}-") as servers:
        async def drive() -> dict:
            run = Run(_students(plan, seeded, [s.url for s in servers]), plan.questions, plan.seed)
            steps, best = [], None
            try:
                say(f"find-max on {instances} instance(s): {plan.sessions} sessions log in …")
                await run.open_all()
                warm = summary(await run.warm_up(), 0)
                rate = plan.start_rate
                for _ in range(plan.max_steps):
                    say(f"  offering {rate:.1f} questions/s for {plan.step_duration_s:.0f} s …")
                    cpu0, start = _cpu(servers), _now()
                    records = await run.phase(f"{rate:.2f}/s", plan.step_duration_s, plan.sessions / rate)
                    step = summary(records, run.elapsed[f"{rate:.2f}/s"], offered_per_s=rate)
                    step["server_cpu_s"] = round(_cpu(servers) - cpu0, 1)
                    step["server_ask"] = percentiles(server_ask_ms(env["DATABASE_URL"], start, _now()))
                    p95 = step["latency"]["p95_ms"]
                    # kept up: p95 under the target, no error, and no session more than the target behind
                    # its schedule for 95% of its questions (a backlog hides in lateness, not latency)
                    step["holds"] = bool(p95 is not None and p95 < plan.target_p95_ms and step["errors"] == 0
                                         and step["late_p95_s"] * 1000 < plan.target_p95_ms)
                    steps.append(step)
                    say(f"    achieved {step['questions_per_s']}/s, p95 {p95} ms, errors {step['errors']}")
                    if not step["holds"]:
                        break
                    best = step
                    rate *= FIND_MAX_FACTOR
            finally:
                await run.close()
            return {"instances": instances, "warm_up": warm, "steps": steps, "target_p95_ms": plan.target_p95_ms,
                    "max_questions_per_s": best["questions_per_s"] if best else None,
                    "limit_reached": bool(steps) and not steps[-1]["holds"],
                    "load_average_1m": round(os.getloadavg()[0], 2)}

        return asyncio.run(drive())


def format_bench_load(r: dict) -> str:
    head = (f"Load through the app's websocket: {r['sessions']} sessions, class of {len(r['documents'])} documents, "
            f"{r['database']}, embedder {r['embedder']}, {r['cpu_count']} CPUs")
    if "find_max" in r:
        lines = [head]
        for f in r["find_max"]:
            if f["warm_up"]["errors"]:
                lines.append(f"  warm-up errors {f['warm_up']['errors']}/{f['warm_up']['questions']}: "
                             f"{'; '.join(f['warm_up']['error_examples'][:2])}")
            lines.append(f"  {f['instances']} instance(s): most questions/s with p95 < {f['target_p95_ms']:.0f} ms: "
                         f"{f['max_questions_per_s'] if f['max_questions_per_s'] is not None else 'none'}"
                         f"{'' if f['limit_reached'] else ' (the ramp ended before the limit: add --max-steps)'}")
            for s in f["steps"]:
                lines.append(f"    offered {s['offered_per_s']:>6}/s  achieved {s['questions_per_s']:>6}/s  "
                             f"{_ms(s['latency'])}  late p95 {s['late_p95_s']} s  errors {s['errors']}  "
                             f"server CPU {s['server_cpu_s']} s  "
                             f"ask alone p95 {s['server_ask']['p95_ms']} ms"
                             f"{'' if s['holds'] else '  <- over'}")
            lines += [f"      error: {e}" for e in s["error_examples"]]
        return "\n".join([*lines, _log_note(r)])
    lines = [head + f", {r['instances']} instance(s)",
             f"  offered {r['offered_per_s']} questions/s ({r['sessions']} sessions, one every {r['interval_s']} s "
             f"on average); warm-up (one question each, at once) {_ms(r['warm_up']['latency'])}, "
             f"errors {r['warm_up']['errors']}/{r['warm_up']['questions']}"]
    for name, key in (("idle", "idle"), ("loaded", "loaded"), ("  while ingesting", "loaded_while_ingesting")):
        s = r[key]
        lines.append(f"  {name:<17} {_ms(s['latency'])}  errors {s['errors']}/{s['questions']}  "
                     f"{s['questions_per_s']} questions/s  {s['cited']} cited answers  late p95 {s['late_p95_s']} s")
    lines.append(f"  the ask alone (ChatService, from query_log): idle {_ms(r['server_ask']['idle'])}; "
                 f"loaded {_ms(r['server_ask']['loaded'])}")
    lines.append(f"  p95 loaded / idle {r['p95_ratio_loaded_to_idle']} (while ingesting: "
                 f"{r['p95_ratio_while_ingesting_to_idle']}); errors {r['errors']}")
    lines.append(f"  uploads: {', '.join(r['uploads']) or 'none'}; ingested in {r['ingest_s']} s "
                 f"(exit {r['ingest_exit']}); seed ingest {r['seed_ingest_s']} s")
    if r["ingest_exit"]:
        lines += [f"  ingest: {line}" for line in r["ingest_output"]]
    lines.append(f"  CPU s idle/loaded: server {r['server_cpu_s']['idle']}/{r['server_cpu_s']['loaded']}, "
                 f"this client {r['client_cpu_s']['idle']}/{r['client_cpu_s']['loaded']}; "
                 f"load average {r['load_average_1m'][0]} -> {r['load_average_1m'][1]}")
    for key in ("warm_up", "idle", "loaded"):
        lines += [f"  {key} error: {e}" for e in r[key]["error_examples"]]
    return "\n".join([*lines, _log_note(r)])


def _ms(p: dict) -> str:
    if not p.get("n"):
        return "no answers"
    return f"p50 {p['p50_ms']:.0f} ms, p95 {p['p95_ms']:.0f} ms, max {p['max_ms']:.0f} ms"
