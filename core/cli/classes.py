"""Class commands: `create-class`, `classes`, `add-instructor`."""
from __future__ import annotations

from argparse import Namespace

from core.cli import EXIT_OK, Cli, Commands, as_user_option, class_option, json_option


def register(commands: Commands) -> None:
    p = commands.add("create-class", create_class, "Create a class; prints its id and join code.")
    p.add_argument("--name", required=True)
    p.add_argument("--description")
    p.add_argument("--owner", metavar="EMAIL",
                   help="the instructor (default: none; the class is then visible to administrators only)")
    json_option(p)

    p = commands.add("add-instructor", add_instructor, "Make a user an instructor of a class.")
    class_option(p)
    p.add_argument("email", metavar="EMAIL")

    p = commands.add("classes", list_classes, "List classes (all of them for the operator).")
    as_user_option(p)
    json_option(p)


def create_class(args: Namespace, cli: Cli) -> int:
    info = cli.services().classes.create(cli.actor(args.owner), args.name, args.description or "")
    if args.json:
        cli.print_json({"id": info.id, "name": info.name, "join_code": info.join_code})
    else:
        print(f"created class {info.id}: {info.name}  join code: {info.join_code}")
    return EXIT_OK


def list_classes(args: Namespace, cli: Cli) -> int:
    rows = cli.services().classes.list_for(cli.actor(args.as_user))
    if args.json:
        cli.print_json([{"id": c.id, "name": c.name, "role": c.role, "join_code": c.join_code,
                         "documents": c.document_count} for c in rows])
    else:
        for c in rows:
            print(f"{c.id:>5}  {c.name}  ({c.role}, {c.document_count} documents, code {c.join_code or '-'})")
    return EXIT_OK


def add_instructor(args: Namespace, cli: Cli) -> int:
    info = cli.services().classes.add_instructor(cli.actor(None), args.class_id, args.email)
    print(f"{args.email} is an instructor of class {info.id}: {info.name}")
    return EXIT_OK
