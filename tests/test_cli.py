"""`python -m core`: every command through main() against a real database, plus one real
subprocess run; and every command has --help and is documented in the README."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli.main import build_parser, main
from tests.factories import make_pdf

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def env(tmp_path, database_url, monkeypatch, fast_bcrypt):
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("EMBEDDER", "fake")
    return tmp_path


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_full_flow(env, capsys):
    assert run(capsys, "migrate", "--no-backup")[0] == 0
    code, out, _ = run(capsys, "create-user", "--email", "Prof@Example.edu", "--password", "prof-password-1")
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
    assert code == 0 and set(answer) == {"answer", "citations"}
    assert answer["citations"][0] == {**answer["citations"][0], "n": 1, "document": "cells.pdf", "page": 2}
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
    code, _, err = run(capsys, "create-user", "--email", "x@example.edu", "--password", "weak")
    assert code == 2 and "Password too weak" in err


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
    out = subprocess.run([sys.executable, "-m", "core", "create-class", "--name", "Sub", "--json"], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["id"] == 1
    assert (tmp_path / "classgpt.db").exists()
