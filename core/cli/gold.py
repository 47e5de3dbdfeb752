"""Checked-answer commands: `gold add`, `gold list`, `gold run`, `gold delete` (docs/gold-questions.md)."""
from __future__ import annotations

from argparse import Namespace
from typing import TYPE_CHECKING

from core.cli import EXIT_OK, EXIT_PROBLEMS, Cli, Commands, as_user_option, class_option, json_option

if TYPE_CHECKING:  # the services load with the first command that needs them, not with --help
    from core.services.gold import GoldInfo

MARKS = {"first": "ok  first", "top5": "ok  top 5", "missed": "MISSED", None: "not run"}


def register(commands: Commands) -> None:
    gold = commands.group("gold", "Checked answers: questions with the pages that should answer them.",
                          "add|list|run|delete")

    p = gold.add("add", add, "Add a checked question: the document and pages that should answer it.")
    class_option(p)
    p.add_argument("--question", required=True)
    p.add_argument("--document", required=True, metavar="ID_OR_NAME", help="the document's id or exact name")
    p.add_argument("--pages", default="", help='pages that answer it, e.g. "3" or "3-5, 7" (default: any page)')
    as_user_option(p)
    json_option(p)

    p = gold.add("list", list_gold, "List a class's checked questions with their last results.")
    class_option(p)
    as_user_option(p)
    json_option(p)

    p = gold.add("run", run, "Ask every checked question as a student sees the class; exit 1 if any is missed.")
    class_option(p)
    as_user_option(p)
    json_option(p)

    p = gold.add("delete", delete, "Delete a checked question.")
    p.add_argument("gold_id", type=int, metavar="ID")
    as_user_option(p)


def _as_dict(q: GoldInfo) -> dict:
    return {"id": q.id, "question": q.question, "document_id": q.document_id, "document": q.document_name,
            "pages": list(q.pages), "status": q.status, "previous_status": q.previous_status,
            "stopped": q.stopped, "cited": [c.__dict__ for c in q.cited],
            "ran_at": q.ran_at.isoformat() if q.ran_at else None}


def _print(rows: list[GoldInfo]) -> None:
    for q in rows:
        stopped = "  (stopped being answered)" if q.stopped else ""
        cited = f"  cited first: {q.cited[0].label}" if q.cited else ("  nothing cited" if q.status else "")
        print(f"{q.id:>5}  {MARKS[q.status]:<9}  {q.question}  [expects {q.expected}]{cited}{stopped}")


def add(args: Namespace, cli: Cli) -> int:
    document = int(args.document) if args.document.isdigit() else args.document
    q = cli.services().gold.add(cli.actor(args.as_user), args.class_id, args.question, document, args.pages)
    if args.json:
        cli.print_json(_as_dict(q))
    else:
        print(f"added checked question {q.id}: expects {q.expected} (run it: gold run --class {args.class_id})")
    return EXIT_OK


def list_gold(args: Namespace, cli: Cli) -> int:
    rows = cli.services().gold.list(cli.actor(args.as_user), args.class_id)
    if args.json:
        cli.print_json([_as_dict(q) for q in rows])
    else:
        _print(rows)
    return EXIT_OK


def run(args: Namespace, cli: Cli) -> int:
    rows = cli.services().gold.run(cli.actor(args.as_user), args.class_id)
    if args.json:
        cli.print_json([_as_dict(q) for q in rows])
    else:
        _print(rows)
        missed = sum(q.status == "missed" for q in rows)
        print(f"{len(rows) - missed}/{len(rows)} answered on a right page" + (f", {missed} missed" if missed else ""))
    return EXIT_PROBLEMS if any(q.status == "missed" for q in rows) else EXIT_OK


def delete(args: Namespace, cli: Cli) -> int:
    cli.services().gold.delete(cli.actor(args.as_user), args.gold_id)
    print(f"deleted checked question {args.gold_id}")
    return EXIT_OK
