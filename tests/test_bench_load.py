"""`python -m loadtest` drives the real app (`streamlit run app.py`) over Streamlit's websocket: sessions log
in through the login form and ask on the Chat page. Small and fast: the fake embedder, two sessions,
a few seconds per phase, text fixtures written here (no ../shared/data)."""
from __future__ import annotations

import asyncio

import pytest

from loadtest.bench import LoadPlan, bench_load
from loadtest.system import IngestRun, app_env, app_servers, seed, throwaway_database
from loadtest.sessions import Student, answer_shown
from loadtest.client import SessionError

# the servers compete for the CPU with the browser tests: never at the same time
pytestmark = pytest.mark.xdist_group("browser")

PHOTOSYNTHESIS = ("# Photosynthesis\n\nChlorophyll absorbs red and blue light and reflects green light, which is why "
                  "leaves look green. Photosynthesis turns light, water and carbon dioxide into sugar and oxygen.\n\n"
                  "# Respiration\n\nCells release the energy stored in sugar by respiration, which uses oxygen and "
                  "gives off carbon dioxide.\n")
VOLCANOES = ("# Volcanoes\n\nMagma that reaches the surface is called lava. A volcano erupts when pressure from gases "
             "in the magma builds up.\n")
# each answered from biology.md with a citation by the fake embedder (checked with `python -m core ask`)
QUESTIONS = ["Why do leaves look green?", "Which light does chlorophyll reflect?", "What does respiration release?",
             "What is respiration?"]


@pytest.fixture
def fixtures(tmp_path):
    material = tmp_path / "biology.md"
    material.write_text(PHOTOSYNTHESIS)
    upload = tmp_path / "volcanoes.md"
    upload.write_text(VOLCANOES)
    return material, upload


def test_sessions_log_in_and_get_cited_answers_idle_and_during_an_upload(tmp_path, fixtures):
    material, upload = fixtures
    plan = LoadPlan(sessions=2, interval_s=1.0, duration_s=5.0, idle_duration_s=4.0, uploads=1, documents=[material],
                    upload_files=[upload], questions=QUESTIONS, embedder="fake", timeout_s=30, workdir=tmp_path,
                    logs=tmp_path / "logs")

    r = bench_load(plan)

    assert r["errors"] == 0, (r["idle"]["error_examples"], r["loaded"]["error_examples"])
    assert r["warm_up"]["answered"] == 2 and r["warm_up"]["errors"] == 0
    for phase in ("idle", "loaded"):
        assert r[phase]["answered"] >= 2, r[phase]
        assert r[phase]["cited"] == r[phase]["answered"]  # every question is about the material: answers cite it
        assert 0 < r[phase]["latency"]["p50_ms"] < 30_000
    assert r["ingest_exit"] == 0, r["ingest_output"]
    assert r["uploads"] == ["volcanoes.md"]
    assert r["p95_ratio_loaded_to_idle"] > 0


def test_a_wrong_password_and_an_uncovered_question_are_seen_as_such(tmp_path, fixtures):
    """The client does not take the login page or a "not covered" answer for success."""
    material, _ = fixtures
    with throwaway_database(tmp_path, None) as url:
        env = app_env(tmp_path / "data", url, "fake")
        seeded = seed(env, 1)
        assert IngestRun(env, seeded.class_id, seeded.instructor, [material], tmp_path / "ingest.log").wait(60) == 0
        with app_servers(env, 1, tmp_path) as [server]:
            async def scenario():
                email, password = seeded.students[0]
                impostor = Student(0, 0, server.url, (email, password + "x"), timeout_s=30)
                with pytest.raises(SessionError, match="login failed"):
                    await impostor.open()
                await impostor.close()

                student = Student(0, 0, server.url, (email, password), timeout_s=30)
                await student.open()
                try:
                    covered = await student.session.run([_chat(student, "Why do leaves look green?")])
                    cited, error = answer_shown(covered, "Why do leaves look green?")
                    assert error is None and cited >= 1
                    assert answer_shown(covered, "Something else entirely?")[1] == \
                        "the last question shown is not the one asked"
                    uncovered = await student.session.run([_chat(student, "Who won the 1998 football world cup?")])
                    assert answer_shown(uncovered, "Who won the 1998 football world cup?") == (0, None)
                finally:
                    await student.close()

            asyncio.run(scenario())


def _chat(student, text):
    from loadtest.client import chat_value

    return chat_value(student.session.page.widget("chat_input").id, text)
