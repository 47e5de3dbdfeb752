"""Account commands: `create-user`."""
from __future__ import annotations

import getpass
import sys
from argparse import Namespace

from core.cli import EXIT_OK, Cli, Commands


def register(commands: Commands) -> None:
    p = commands.add("create-user", create_user, "Create a user account.")
    p.add_argument("--email", required=True)
    p.add_argument("--name")
    p.add_argument("--password", help="the password (prompted for when omitted)")
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p.add_argument("--admin", action="store_true", help="make the user an administrator")


def create_user(args: Namespace, cli: Cli) -> int:
    accounts = cli.services().accounts
    password = args.password
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif password is None:
        password = getpass.getpass("Password: ")
    user = accounts.register(args.email, password, args.name or "")
    if args.admin:
        user = accounts.set_admin(user.email)
    print(f"created user {user.email} (id {user.id}){' as admin' if args.admin else ''}")
    return EXIT_OK
