"""Class commands: `create-class`, `classes`, `add-instructor`, `join`, `roster`, `remove-member`,
`rotate-code`."""
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

    p = commands.add("join", join_class, "Join a class with its join code, as a user.")
    p.add_argument("code", metavar="CODE")
    # the operator is in no class: joining is always someone's
    p.add_argument("--as", dest="as_user", metavar="EMAIL", required=True, help="the user who joins")

    p = commands.add("roster", roster, "List a class's members: role, joined, last question.")
    class_option(p)
    as_user_option(p)
    json_option(p)

    p = commands.add("remove-member", remove_member, "Remove a user from a class (never its last instructor).")
    class_option(p)
    p.add_argument("email", metavar="EMAIL")

    p = commands.add("rotate-code", rotate_code,
                     "Give a class a new join code; the old code and links stop working at once.")
    class_option(p)


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


def join_class(args: Namespace, cli: Cli) -> int:
    info = cli.services().classes.join(cli.actor(args.as_user), args.code, "cli")
    print(f"{args.as_user} is in class {info.id}: {info.name} ({info.role})")
    return EXIT_OK


def roster(args: Namespace, cli: Cli) -> int:
    rows = cli.services().classes.roster(cli.actor(args.as_user), args.class_id)
    if args.json:
        cli.print_json([{"name": m.name, "email": m.email, "role": m.role, "joined": m.joined.isoformat(),
                         "last_question": m.last_question.isoformat() if m.last_question else None}
                        for m in rows])
    else:
        for m in rows:
            last = f"{m.last_question:%Y-%m-%d %H:%M}" if m.last_question else "never asked"
            print(f"{m.role:<10}  {m.email}  {m.name or '-'}  joined {m.joined:%Y-%m-%d %H:%M}  last question: {last}")
    return EXIT_OK


def remove_member(args: Namespace, cli: Cli) -> int:
    services = cli.services()
    actor = cli.actor(None)
    member = services.classes.remove_member(actor, args.class_id, services.accounts.lookup(actor, args.email).id)
    print(f"removed {member.email} ({member.role}) from class {args.class_id}")
    return EXIT_OK


def rotate_code(args: Namespace, cli: Cli) -> int:
    code = cli.services().classes.rotate_join_code(cli.actor(None), args.class_id)
    print(f"class {args.class_id}: new join code {code} (the old one no longer works)")
    return EXIT_OK
