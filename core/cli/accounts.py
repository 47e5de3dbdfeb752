"""Account commands: `create-user`, `grant-admin`, `revoke-admin`, `revoke-sessions`, `delete-user`."""
from __future__ import annotations

import getpass
import sys
from argparse import Namespace

from core.cli import EXIT_OK, Cli, Commands


def register(commands: Commands) -> None:
    p = commands.add(
        "create-user", create_user, "Create a user account.",
        "Create an account. The password is asked for at a prompt, or read from standard input with "
        "--password-stdin; it is never an argument, which the process list and shell history would keep.")
    p.add_argument("--email", required=True)
    p.add_argument("--name")
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p.add_argument("--admin", action="store_true", help="make the user an administrator")

    p = commands.add("grant-admin", grant_admin, "Make a user an administrator (every class, the Status page).")
    p.add_argument("email", metavar="EMAIL")
    p = commands.add("revoke-admin", revoke_admin, "Take a user's administrator rights away.")
    p.add_argument("email", metavar="EMAIL")

    p = commands.add("revoke-sessions", revoke_sessions,
                     "Log a user out everywhere: every browser they are signed in on.")
    p.add_argument("email", metavar="EMAIL")

    p = commands.add(
        "delete-user", delete_user, "Delete a user; their classes go to another instructor or stay private.",
        "Delete an account with its sessions, enrollments and chat. A class it taught goes to --hand-classes-to; "
        "without it, a class with no other instructor stays private to administrators until one is added "
        "(`add-instructor`).")
    p.add_argument("email", metavar="EMAIL")
    p.add_argument("--hand-classes-to", metavar="EMAIL", help="the instructor who takes over the user's classes")


def create_user(args: Namespace, cli: Cli) -> int:
    from core.services.actors import SYSTEM

    accounts = cli.services().accounts
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
    user = accounts.register(args.email, password, args.name or "")
    if args.admin:
        user = accounts.set_admin(SYSTEM, user.email)
    print(f"created user {user.email} (id {user.id}){' as admin' if args.admin else ''}")
    return EXIT_OK


def grant_admin(args: Namespace, cli: Cli) -> int:
    from core.services.actors import SYSTEM

    user = cli.services().accounts.set_admin(SYSTEM, args.email, True)
    print(f"{user.email} is an administrator")
    return EXIT_OK


def revoke_admin(args: Namespace, cli: Cli) -> int:
    from core.services.actors import SYSTEM

    user = cli.services().accounts.set_admin(SYSTEM, args.email, False)
    print(f"{user.email} is no longer an administrator")
    return EXIT_OK


def revoke_sessions(args: Namespace, cli: Cli) -> int:
    from core.services.actors import SYSTEM

    ended = cli.services().accounts.revoke_sessions(SYSTEM, args.email)
    print(f"ended {ended} session{'s' if ended != 1 else ''} of {args.email}")
    return EXIT_OK


def delete_user(args: Namespace, cli: Cli) -> int:
    from core.services.actors import SYSTEM

    report = cli.services().accounts.delete_user(SYSTEM, args.email, args.hand_classes_to)
    print(f"deleted {report.email}")
    for name in report.handed_over:
        print(f"  {name}: now taught by {args.hand_classes_to}")
    for name in report.kept_by_others:
        print(f"  {name}: stays with its other instructors")
    for name in report.private_to_admins:
        print(f"  {name}: no instructor left, private to administrators (add one with add-instructor)")
    return EXIT_OK
