"""`python -m core`: every command through main() against a real database, plus one real
subprocess run; every command has --help and is documented in the README; only `migrate`
changes the schema."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli import EXIT_ERROR, build_parser, main
from core.database import current_revision, head_revision, make_engine, upgrade
from tests.factories import make_pdf

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def env(tmp_path, database_url, monkeypatch, fast_bcrypt):
    """The environment of a command line on a migrated database."""
    engine = make_engine(database_url)
    upgrade(engine)
    engine.dispose()
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("EMBEDDER", "fake")
    return tmp_path


@pytest.fixture
def fresh_env(tmp_path, monkeypatch, fast_bcrypt):
    """A command line on a new, empty SQLite database."""
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("EMBEDDER", "fake")
    return f"sqlite:///{tmp_path / 'data' / 'classgpt.db'}"


def run(capsys, *argv, stdin: str = "") -> tuple[int, str, str]:
    import io

    real = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        code = main(list(argv))
    finally:
        sys.stdin = real
    out, err = capsys.readouterr()
    return code, out, err


def test_full_flow(env, capsys):
    assert run(capsys, "migrate", "--no-backup")[0] == 0
    code, out, _ = run(capsys, "create-user", "--email", "Prof@Example.edu", "--password-stdin",
                       stdin="prof-password-1\n")
    assert code == 0 and "prof@example.edu" in out
    code, out, _ = run(capsys, "create-class", "--name", "Biology", "--owner", "prof@example.edu", "--json")
    created = json.loads(out)
    assert code == 0 and created["name"] == "Biology" and len(created["join_code"]) == 8
    cid = str(created["id"])

    good = env / "cells.pdf"
    good.write_bytes(make_pdf(["Intro", "Mitochondria produce ATP through respiration."]))
    empty = env / "empty.txt"
    empty.write_bytes(b"")
    code, out, _ = run(capsys, "ingest", "--class", cid, "--as", "prof@example.edu", str(good), str(empty))
    assert code == 1  # one file failed
    lines = out.strip().splitlines()
    assert lines[0].startswith("ok      cells.pdf: document 1, 2 pages, 2 chunks")
    assert lines[1].startswith("FAILED  empty.txt:") and "empty" in lines[1]

    code, out, _ = run(capsys, "ask", "--class", cid, "--json", "What", "do", "mitochondria", "produce?")
    answer = json.loads(out)
    assert code == 0 and set(answer) == {"answer", "found", "generated", "model", "notice", "citations", "related"}
    assert (answer["found"], answer["generated"], answer["model"]) == (True, False, None)
    assert answer["citations"][0] == {**answer["citations"][0], "n": 1, "document": "cells.pdf", "page": 2,
                                      "page_label": "2"}
    assert "[1]" in answer["answer"]

    code, out, _ = run(capsys, "ask", "--class", cid, "What do mitochondria produce?")
    assert "Sources:" in out and "[1] cells.pdf, p. 2" in out

    code, out, _ = run(capsys, "documents", "--class", cid, "--json")
    assert json.loads(out)[0]["filename"] == "cells.pdf"
    assert run(capsys, "delete-document", "1")[0] == 0
    code, out, _ = run(capsys, "ask", "--class", cid, "--json", "What do mitochondria produce?")
    assert json.loads(out)["citations"] == []


def test_domain_errors_are_one_line_and_exit_2(env, capsys):
    code, _, err = run(capsys, "ask", "--class", "999", "anything")
    assert code == 2 and err.strip() == "error: Class 999 does not exist."
    code, _, err = run(capsys, "create-user", "--email", "x@example.edu", "--password-stdin", stdin="weak\n")
    assert code == 2 and err == "error: Password too weak: use at least 8 characters.\n"


def test_passwords_never_go_on_the_command_line(env, capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["create-user", "--email", "x@example.edu", "--password", "secret-words-9"])
    help_text = build_parser()._subparsers._group_actions[0].choices["create-user"].format_help()  # noqa: SLF001
    assert "never an argument" in " ".join(help_text.split()) and "--password-stdin" in help_text


def test_create_user_as_admin(env, capsys):
    code, out, _ = run(capsys, "create-user", "--email", "ops@example.edu", "--password-stdin", "--admin",
                       stdin="ops-password-1\n")
    assert code == 0 and out.endswith("as admin\n")
    code, out, _ = run(capsys, "create-user", "--email", "prof@example.edu", "--password-stdin",
                       stdin="prof-password-1\n")
    assert code == 0 and "admin" not in out
    from core.config import Settings
    from core.services import build_services

    from core.services.actors import SYSTEM

    services = build_services(Settings())
    assert services.accounts.lookup(SYSTEM, "ops@example.edu").is_admin
    assert not services.accounts.lookup(SYSTEM, "prof@example.edu").is_admin
    assert run(capsys, "revoke-admin", "ops@example.edu")[0] == 0
    assert not services.accounts.lookup(SYSTEM, "ops@example.edu").is_admin
    assert run(capsys, "grant-admin", "prof@example.edu") == (0, "prof@example.edu is an administrator\n", "")
    assert services.accounts.lookup(SYSTEM, "prof@example.edu").is_admin
    services.accounts.log_in("prof@example.edu", "prof-password-1")
    assert run(capsys, "revoke-sessions", "prof@example.edu")[1] == "ended 1 session of prof@example.edu\n"
    code, out, _ = run(capsys, "create-class", "--name", "Orphan", "--json")
    class_id = json.loads(out)["id"]
    assert run(capsys, "add-instructor", "--class", str(class_id), "ops@example.edu")[0] == 0
    code, out, _ = run(capsys, "delete-user", "ops@example.edu")
    assert code == 0 and "Orphan: no instructor left, private to administrators" in out
    services.db.engine.dispose()


@pytest.mark.parametrize("argv", [
    ["create-class", "--name", "X"],
    ["classes"],
    ["storage", "check"],
    ["ask", "--class", "1", "anything"],
])
def test_commands_never_create_or_upgrade_the_schema(fresh_env, capsys, argv):
    """Only `migrate` changes the schema, and it backs the database up first."""
    code, out, err = run(capsys, *argv)
    assert code == EXIT_ERROR and out == ""
    assert err.startswith("error: The database at sqlite:///") and "run `python -m core migrate` first" in err
    assert current_revision(make_engine(fresh_env)) is None


def test_commands_refuse_a_schema_behind_the_code(fresh_env, capsys):
    assert run(capsys, "migrate")[0] == 0
    assert run(capsys, "migrate", "--downgrade", "0003")[0] == 0
    code, _, err = run(capsys, "storage", "check")
    assert code == EXIT_ERROR and f"at schema revision 0003, and this code needs {head_revision()}" in err
    assert current_revision(make_engine(fresh_env)) == "0003"
    code, out, _ = run(capsys, "health")  # reports the old schema instead of refusing
    report = json.loads(out)
    assert code == 0 and report["database"]["revision"] == "0003" and report["database"]["at_head"] is False
    code, out, _ = run(capsys, "migrate")
    assert code == 0 and "backup:" in out and "0003 ->" in out
    assert run(capsys, "storage", "check")[0] == 0


def test_migrate_down_and_up(env, capsys):
    assert run(capsys, "migrate", "--no-backup")[0] == 0
    code, out, _ = run(capsys, "migrate", "--no-backup", "--downgrade", "0001")
    assert code == 0 and "-> 0001" in out
    code, out, _ = run(capsys, "migrate", "--no-backup")
    assert code == 0 and "0001 ->" in out


def _commands(parser) -> list[list[str]]:
    out = []
    for action in parser._subparsers._group_actions:  # noqa: SLF001 - argparse has no public walk
        for name, sub in action.choices.items():
            nested = [a for a in sub._actions if a.__class__.__name__ == "_SubParsersAction"]
            if nested:
                out += [[name, *rest] for rest in _commands(sub)]
            else:
                out.append([name])
    return out


def test_every_command_has_help_and_is_in_the_readme(capsys):
    readme = (ROOT / "README.md").read_text()
    commands = _commands(build_parser())
    assert ["eval", "beir"] in commands and ["storage", "check"] in commands
    for cmd in commands:
        with pytest.raises(SystemExit) as exit_:
            main([*cmd, "--help"])
        assert exit_.value.code == 0
        assert "usage:" in capsys.readouterr().out
        assert f"python -m core {' '.join(cmd)}" in readme, f"README does not document `{' '.join(cmd)}`"


def test_real_subprocess(tmp_path):
    env = {**os.environ, "DATA_DIR": str(tmp_path), "EMBEDDER": "fake"}
    env.pop("DATABASE_URL", None)

    def core(*argv):
        return subprocess.run([sys.executable, "-m", "core", *argv], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=120)

    refused = core("create-class", "--name", "Sub", "--json")
    assert refused.returncode == 2 and "run `python -m core migrate` first" in refused.stderr
    assert core("migrate").returncode == 0
    out = core("create-class", "--name", "Sub", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["id"] == 1
    assert (tmp_path / "classgpt.db").exists()


def test_migrate_refuses_unsafe_production_settings(fresh_env, capsys, monkeypatch):
    """The container's first step: a misconfigured deploy stops here, with the reasons, and
    changes nothing (instead of starting and reporting healthy)."""
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("AUTH_COOKIE_KEY", "x" * 40)
    code, out, err = run(capsys, "migrate")
    assert code == EXIT_ERROR and out == ""
    assert err.startswith("error: Refusing to start in production:")
    assert "AUTH_COOKIE_KEY" in err and "DATABASE_URL" in err and "STORAGE_BACKEND" in err
    assert current_revision(make_engine(fresh_env)) is None
