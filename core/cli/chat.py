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
                   help='print {"answer": str, "citations": [{"n", "document", "page", "text", "score"}]}')
    p.add_argument("question", nargs="+", metavar="QUESTION")


def ask(args: Namespace, cli: Cli) -> int:
    answer = cli.services().chat.ask(cli.actor(args.as_user), args.class_id, " ".join(args.question))
    if args.json:
        cli.print_json(answer.to_dict())
        return EXIT_OK
    print(answer.text)
    if answer.citations:
        print("\nSources:")
        for c in answer.citations:
            text = " ".join(c.text.split())
            snippet = text if len(text) <= SNIPPET_CHARS else text[:SNIPPET_CHARS - 1] + "…"
            print(f"  [{c.n}] {c.label}  (score {c.score:.2f})  {snippet}")
    return EXIT_OK
