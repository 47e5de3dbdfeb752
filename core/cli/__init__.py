"""`python -m core`: the services behind a command line (operator tasks, evaluation, benchmarks).

One layout for every command: a module per area registers its commands in `register(commands)`;
each handler is `handler(args, cli) -> exit code`, calls one service or operation, and prints
what it did (`--json` where a script reads it). `main()` is the one place that turns a domain
error into `error: <message>` on stderr.

Exit codes: 0 done; 1 done, with problems (a file failed, a stored file is missing, something is
down); 2 not done (bad input, a missing class, an unsafe setting, a schema that needs `migrate`).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from core.config import Settings
from core.errors import ClassGPTError

if TYPE_CHECKING:
    from core.services import Services
    from core.services.actors import Actor

EXIT_OK, EXIT_PROBLEMS, EXIT_ERROR = 0, 1, 2

Handler = Callable[[argparse.Namespace, "Cli"], int]


class Cli:
    """What a handler works with: the settings, and the services built on first use."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._services: Services | None = None

    def services(self, *, any_schema: bool = False) -> Services:
        """The services over the configured database. Commands never change the schema (only
        `migrate` does): a database behind the code is refused, unless `any_schema` (health)."""
        if self._services is None:
            from core.database import require_current_schema
            from core.services import build_services

            services = build_services(self.settings)
            if not any_schema:
                require_current_schema(services.db.engine)
            self._services = services
        return self._services

    def actor(self, email: str | None) -> Actor:
        """The user named by --as, or the operator (who may do anything)."""
        from core.services.actors import SYSTEM

        return self.services().accounts.lookup(SYSTEM, email).actor() if email else SYSTEM

    @staticmethod
    def print_json(obj: object) -> None:
        print(json.dumps(obj, indent=2, default=str, ensure_ascii=False))

    @staticmethod
    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._services is not None:
            self._services.db.engine.dispose()


class Commands:
    """Adds commands (or groups of commands) to the parser, each with its handler."""

    def __init__(self, subparsers: argparse._SubParsersAction):
        self._sub = subparsers

    def add(self, name: str, handler: Handler, help: str, description: str | None = None) -> argparse.ArgumentParser:
        parser = self._sub.add_parser(name, help=help, description=description or help)
        parser.set_defaults(handler=handler)
        return parser

    def group(self, name: str, help: str, metavar: str) -> Commands:
        parser = self._sub.add_parser(name, help=help, description=help)
        return Commands(parser.add_subparsers(dest=f"{name}_command", required=True, metavar=metavar))


def as_user_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--as", dest="as_user", metavar="EMAIL",
                        help="act as this user (default: the operator, who may do anything)")


def class_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--class", dest="class_id", type=int, required=True, metavar="ID")


def json_option(parser: argparse.ArgumentParser, help: str = "print the result as JSON") -> None:
    parser.add_argument("--json", action="store_true", help=help)


def build_parser() -> argparse.ArgumentParser:
    from core.cli import accounts, chat, classes, documents, gold, insights, jobs, measure, ops

    parser = argparse.ArgumentParser(
        prog="python -m core",
        description="ClassGPT administration, evaluation and benchmarks. Settings come from the "
                    "environment (DATABASE_URL, DATA_DIR, STORAGE_BACKEND, ...; see README).",
    )
    commands = Commands(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    for area in (ops, accounts, classes, documents, jobs, chat, insights, gold, measure):
        area.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # warnings and errors only: the command's own output is the report (events go to the app's log)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    cli = None
    try:
        cli = Cli(Settings().check())
        return args.handler(args, cli)
    except ClassGPTError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        if cli is not None:
            cli.close()
