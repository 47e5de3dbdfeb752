"""`ask`: a question in a class, answered as a student would see it."""
from __future__ import annotations

from argparse import Namespace

from core.cli import EXIT_OK, Cli, Commands, as_user_option, class_option

SNIPPET_CHARS = 160


def register(commands: Commands) -> None:
    p = commands.add("ask", ask, "Ask a question in a class; prints the cited answer.")
    class_option(p)
    as_user_option(p)
    p.add_argument("--json", action="store_true",
                   help='print {"answer", "found", "generated", "model", "notice", "citations": [{"n", "document", '
                        '"page" (1-based index), "page_label" (the printed number), "text", "score"}], "related": [...]}')
    p.add_argument("question", nargs="+", metavar="QUESTION")


def ask(args: Namespace, cli: Cli) -> int:
    answer = cli.services().chat.ask(cli.actor(args.as_user), args.class_id, " ".join(args.question))
    if args.json:
        cli.print_json(answer.to_dict())
        return EXIT_OK
    print(answer.text)
    if answer.notice:
        print(f"\n({answer.notice})")
    if answer.generated:
        print(f"\nWritten by {answer.model}; every sentence checked against the sources.")
    _print_passages("Sources:", answer.citations)
    _print_passages("Related material (it does not answer the question):", answer.related)
    return EXIT_OK


def _print_passages(heading: str, citations) -> None:
    if not citations:
        return
    print(f"\n{heading}")
    for c in citations:
        text = " ".join(c.text.split())
        snippet = text if len(text) <= SNIPPET_CHARS else text[:SNIPPET_CHARS - 1] + "…"
        print(f"  [{c.n}] {c.label}  (score {c.score:.2f})  {snippet}")
