"""Insights command: `insights` (a class's questions per day, what the material did not answer,
the pages cited most; or the questions as CSV)."""
from __future__ import annotations

from argparse import Namespace
from pathlib import Path

from core.cli import EXIT_OK, Cli, Commands, as_user_option, class_option
from core.services.insights import DEFAULT_DAYS

TOP = 10  # groups and pages printed as text


def register(commands: Commands) -> None:
    p = commands.add("insights", insights,
                     "A class's insights: questions per day, what the material did not answer, pages cited most.")
    class_option(p)
    p.add_argument("--days", type=int, default=DEFAULT_DAYS, help=f"the window, in days (default {DEFAULT_DAYS})")
    as_user_option(p)
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print the insights as JSON")
    out.add_argument("--csv", type=Path, metavar="FILE", help="write one row per question to FILE (no names)")


def insights(args: Namespace, cli: Cli) -> int:
    service = cli.services().insights
    actor = cli.actor(args.as_user)
    if args.csv:
        text = service.export_csv(actor, args.class_id, args.days)
        args.csv.write_text(text, encoding="utf-8", newline="")
        print(f"wrote {max(0, len(text.splitlines()) - 1)} questions to {args.csv}")
        return EXIT_OK
    overview = service.overview(actor, args.class_id, args.days)
    groups = service.question_groups(actor, args.class_id, args.days)
    cited = service.most_cited(actor, args.class_id, args.days)
    if args.json:
        cli.print_json({
            "days": overview.days, "since": overview.since.isoformat(), "asked": overview.asked,
            "not_covered": overview.not_covered, "weak": overview.weak, "unhelpful": overview.unhelpful,
            "per_day": [{"day": d.day.isoformat(), "asked": d.asked, "not_covered": d.not_covered, "weak": d.weak}
                        for d in overview.per_day],
            "groups": [{"question": g.representative, "count": g.count, "kind": g.kind,
                        "last_asked": g.last_asked.isoformat(), "variants": list(g.variants)} for g in groups],
            "pages": [{"document": p.cited.document, "page": p.cited.printed_page, "count": p.count,
                       "deleted": p.deleted} for p in cited.pages],
        })
        return EXIT_OK
    print(f"last {overview.days} days (since {overview.since:%Y-%m-%d} UTC): {overview.asked} questions, "
          f"{overview.not_covered} not covered, {overview.weak} answered weakly, {overview.unhelpful} unhelpful votes")
    for d in overview.per_day:
        if d.asked:
            print(f"  {d.day.isoformat()}  {d.asked:>4}")
    print("not covered or answered weakly:" if groups else "every question was answered")
    for g in groups[:TOP]:
        print(f"  {g.count:>4}x  {g.representative}  ({g.kind}, last {g.last_asked:%Y-%m-%d})")
    if cited.pages:
        print("pages cited most:")
    for p in cited.pages[:TOP]:
        print(f"  {p.count:>4}x  {p.cited.label}{' (deleted)' if p.deleted else ''}")
    return EXIT_OK
