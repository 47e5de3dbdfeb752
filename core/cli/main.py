"""`python -m core`: the services behind a command line (admin tasks, evaluation, benchmarks).

Parses options, calls one service, maps domain errors to a one-line message and exit code 2.
"""
from __future__ import annotations

import argparse
import getpass
import json
import logging
import sys
from pathlib import Path

from core.config import Settings
from core.errors import ClassGPTError

EXIT_FAILED = 1  # the command ran but some item failed (e.g. one file of an ingest)
EXIT_ERROR = 2  # the command could not do what was asked


def _services(settings: Settings, **kw):
    from core.services import build_services

    return build_services(settings, **kw)


def _actor(services, email: str | None):
    from core.services.actors import SYSTEM

    return services.accounts.by_email(email).actor() if email else SYSTEM


def _print_json(obj) -> None:
    print(json.dumps(obj, indent=2, default=str, ensure_ascii=False))


# ---- commands ----------------------------------------------------------------------------------
def cmd_migrate(args, settings: Settings) -> int:
    from core.database import current_revision, downgrade, head_revision, make_engine, upgrade

    if not args.no_backup:
        from core.cli.ops import backup_before_migrate

        taken = backup_before_migrate(settings, args.downgrade or "head")
        if taken:
            print(f"backup: {taken}")
    engine = make_engine(settings.sqlalchemy_url)
    before = current_revision(engine)
    if args.downgrade:
        downgrade(engine, args.downgrade)
    else:
        upgrade(engine, "head")
    print(f"schema: {before or 'empty'} -> {current_revision(engine)} (head is {head_revision()})")
    return 0


def cmd_create_user(args, settings: Settings) -> int:
    services = _services(settings)
    password = args.password
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif password is None:
        password = getpass.getpass("Password: ")
    user = services.accounts.register(args.email, password, args.name or "")
    if args.admin:
        from core.models import User

        with services.db.transaction() as s:
            s.get(User, user.id).is_admin = True
    print(f"created user {user.email} (id {user.id}){' as admin' if args.admin else ''}")
    return 0


def cmd_create_class(args, settings: Settings) -> int:
    services = _services(settings)
    info = services.classes.create(_actor(services, args.owner), args.name, args.description or "")
    if args.json:
        _print_json({"id": info.id, "name": info.name, "join_code": info.join_code})
    else:
        print(f"created class {info.id}: {info.name}  join code: {info.join_code}")
    return 0


def cmd_list_classes(args, settings: Settings) -> int:
    services = _services(settings)
    rows = services.classes.list_for(_actor(services, args.as_user))
    if args.json:
        _print_json([{"id": c.id, "name": c.name, "role": c.role, "join_code": c.join_code,
                      "documents": c.document_count} for c in rows])
    else:
        for c in rows:
            print(f"{c.id:>5}  {c.name}  ({c.role}, {c.document_count} documents, code {c.join_code or '-'})")
    return 0


def cmd_ingest(args, settings: Settings) -> int:
    services = _services(settings)
    actor = _actor(services, args.as_user)
    failed = 0
    for path in args.files:
        p = Path(path)
        try:
            data = p.read_bytes()
        except OSError as exc:
            print(f"FAILED  {p.name}: cannot read file ({exc.strerror})")
            failed += 1
            continue
        result = services.documents.upload(actor, args.class_id, p.name, data)
        if result.ok:
            note = " (already uploaded; not duplicated)" if result.deduplicated else ""
            pages = f"{result.pages} pages, " if result.pages else ""
            print(f"ok      {p.name}: document {result.document_id}, {pages}"
                  f"{result.chunks} chunks, {result.seconds:.1f}s{note}")
        else:
            failed += 1
            print(f"FAILED  {p.name}: {result.error}")
    return EXIT_FAILED if failed else 0


def cmd_ask(args, settings: Settings) -> int:
    services = _services(settings)
    answer = services.chat.ask(_actor(services, args.as_user), args.class_id, " ".join(args.question))
    if args.json:
        _print_json(answer.to_dict())
        return 0
    print(answer.text)
    if answer.citations:
        print("\nSources:")
        for c in answer.citations:
            text = " ".join(c.text.split())
            snippet = text if len(text) <= 160 else text[:159] + "…"
            print(f"  [{c.n}] {c.label}  (score {c.score:.2f})  {snippet}")
    return 0


def cmd_delete_document(args, settings: Settings) -> int:
    services = _services(settings)
    services.documents.delete(_actor(services, args.as_user), args.document_id)
    print(f"deleted document {args.document_id}")
    return 0


def cmd_documents(args, settings: Settings) -> int:
    services = _services(settings)
    docs = services.documents.list(_actor(services, args.as_user), args.class_id)
    if args.json:
        _print_json([d.__dict__ for d in docs])
    else:
        for d in docs:
            print(f"{d.id:>5}  {d.filename}  {d.status}  {d.page_count} pages  {d.chunk_count} chunks  {d.size_bytes} bytes")
    return 0


def cmd_eval_beir(args, settings: Settings) -> int:
    from core.search.embeddings import make_embedder
    from core.measure.eval_beir import format_beir, run_beir

    result = run_beir(Path(args.directory), split=args.split, embedder=make_embedder(settings.embedder),
                      progress=None if args.json else _stderr_progress)
    _print_json(result) if args.json else print(format_beir(result))
    return 0


def cmd_eval_squad(args, settings: Settings) -> int:
    from core.measure.eval_squad import format_squad, run_squad

    result = run_squad(Path(args.directory), settings, limit=args.limit,
                       progress=None if args.json else _stderr_progress)
    _print_json(result) if args.json else print(format_squad(result))
    return 0


def cmd_bench_ingest(args, settings: Settings) -> int:
    from core.measure.bench_ingest import bench_ingest, format_bench_ingest

    result = bench_ingest([Path(f) for f in args.files], settings)
    _print_json(result) if args.json else print(format_bench_ingest(result))
    return 0


def cmd_bench_query(args, settings: Settings) -> int:
    from core.measure.bench_query import bench_query, format_bench_query
    from core.search.embeddings import make_embedder

    sizes = tuple(int(s) for s in args.sizes.split(","))
    result = bench_query(sizes=sizes, n_queries=args.queries, embedder=make_embedder(settings.embedder))
    _print_json(result) if args.json else print(format_bench_query(result))
    return 0


def _stderr_progress(message: str, *_: object) -> None:
    print(message, file=sys.stderr, flush=True)


# ---- parser ------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m core",
        description="ClassGPT administration, evaluation and benchmarks. Settings come from the "
                    "environment (DATABASE_URL, DATA_DIR, STORAGE_BACKEND, ...; see README).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(handler=handler)
        return p

    def as_user(p: argparse.ArgumentParser) -> None:
        p.add_argument("--as", dest="as_user", metavar="EMAIL",
                       help="act as this user (default: the operator, who may do anything)")

    p = add("migrate", cmd_migrate, "Upgrade the database schema to the latest revision.")
    p.add_argument("--downgrade", metavar="REV", help="downgrade to this revision instead (e.g. 0001)")
    p.add_argument("--no-backup", action="store_true", help="do not take a backup before migrating")

    p = add("create-user", cmd_create_user, "Create a user account.")
    p.add_argument("--email", required=True)
    p.add_argument("--name")
    p.add_argument("--password", help="the password (prompted for when omitted)")
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p.add_argument("--admin", action="store_true", help="make the user an administrator")

    p = add("create-class", cmd_create_class, "Create a class; prints its id and join code.")
    p.add_argument("--name", required=True)
    p.add_argument("--description")
    p.add_argument("--owner", metavar="EMAIL", help="the instructor (default: no owner)")
    p.add_argument("--json", action="store_true")

    p = add("classes", cmd_list_classes, "List classes (all of them for the operator).")
    as_user(p)
    p.add_argument("--json", action="store_true")

    p = add("documents", cmd_documents, "List a class's documents.")
    p.add_argument("--class", dest="class_id", type=int, required=True, metavar="ID")
    as_user(p)
    p.add_argument("--json", action="store_true")

    p = add("ingest", cmd_ingest, "Upload files into a class; one line per file, exit 1 if any failed.")
    p.add_argument("--class", dest="class_id", type=int, required=True, metavar="ID")
    as_user(p)
    p.add_argument("files", nargs="+", metavar="FILE")

    p = add("delete-document", cmd_delete_document, "Delete a document, its chunks and its stored file.")
    p.add_argument("document_id", type=int, metavar="DOCUMENT_ID")
    as_user(p)

    p = add("ask", cmd_ask, "Ask a question in a class; prints the cited answer.")
    p.add_argument("--class", dest="class_id", type=int, required=True, metavar="ID")
    as_user(p)
    p.add_argument("--json", action="store_true",
                   help='print {"answer": str, "citations": [{"n", "document", "page", "text", "score"}]}')
    p.add_argument("question", nargs="+", metavar="QUESTION")

    p = add("eval", None, "Measure retrieval and answer quality on public data sets.")
    esub = p.add_subparsers(dest="eval_command", required=True, metavar="DATASET")
    e = esub.add_parser("beir", help="nDCG@10 and Recall@100 of dense, BM25 and fused rankings on a BEIR collection.",
                        description="Rank a BEIR-format collection (corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv) "
                                    "with the app's retriever; print nDCG@10 and Recall@100 for dense, BM25, fused.")
    e.add_argument("directory", metavar="DIR")
    e.add_argument("--split", default="train", choices=["train", "test", "dev"],
                   help="which qrels/SPLIT.tsv to score (default: train)")
    e.add_argument("--json", action="store_true")
    e.set_defaults(handler=cmd_eval_beir)
    e = esub.add_parser("squad", help="Answer recall@1/@5 on SQuAD-style texts and questions.",
                        description="Ingest DIR/source_texts as one class, ask every question of "
                                    "DIR/questions.jsonl, print answer recall@1/@5 and how often the answer "
                                    "text contains a gold answer.")
    e.add_argument("directory", metavar="DIR")
    e.add_argument("--limit", type=int, help="ask only the first N questions")
    e.add_argument("--json", action="store_true")
    e.set_defaults(handler=cmd_eval_squad)

    p = add("bench", None, "Measure ingestion throughput and query latency.")
    bsub = p.add_subparsers(dest="bench_command", required=True, metavar="WHAT")
    b = bsub.add_parser("ingest", help="Ingestion pages/s and chunks/s against the raw embedding ceiling.",
                        description="Ingest the given files (or every file in a given folder) into a temporary "
                                    "database and print pages/s, chunks/s, the raw embedding throughput of the "
                                    "same model on the same chunks, and peak RSS.")
    b.add_argument("files", nargs="+", metavar="FILE_OR_DIR")
    b.add_argument("--json", action="store_true")
    b.set_defaults(handler=cmd_bench_ingest)
    b = bsub.add_parser("query", help="Query latency p50/p95 (query embedding included) at 10k and 100k chunks.",
                        description="Query latency p50/p95 at each index size, with the components measured "
                                    "in the same run as the baseline.")
    b.add_argument("--sizes", default="10000,100000", help="comma-separated index sizes (default 10000,100000)")
    b.add_argument("--queries", type=int, default=200)
    b.add_argument("--json", action="store_true")
    b.set_defaults(handler=cmd_bench_query)

    _register_optional(sub)
    return parser


def _register_optional(sub) -> None:
    """Command groups that live in their own modules."""
    from core.cli import ops as cli_ops, storage as cli_storage

    cli_storage.register(sub)
    cli_ops.register(sub)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings()
        # warnings and errors only: the command's own output is the report (events go to the app's log)
        logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
        return args.handler(args, settings) or 0
    except ClassGPTError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
