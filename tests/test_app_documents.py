"""Documents page (AppTest): upload several files at once, each listed at once and followed to ready
or failed (with why); files it cannot read explained before upload; list, delete; students read the list only."""
from __future__ import annotations

import re
import threading
import time
from datetime import date, datetime, timezone

from tests.app_support import PASSWORD, app_env, logged_in, setup, shown, svc, texts  # noqa: F401
from tests.factories import corrupt_pdf, make_pdf, upload

PDF = "application/pdf"



def test_empty_class_tells_the_instructor_to_upload(app_env, setup):
    at = logged_in(app_env, "prof@example.edu", page_name="documents")
    assert at.title[0].value == "Documents"
    assert "No documents yet. Upload lecture slides" in shown(at.info[0].value)
    assert at.file_uploader[0].accept_multiple_files


def _plain(text: object) -> str:
    """As shown, without the zero-width spaces that let a long filename wrap after _ . -"""
    return shown(text).replace("\u200b", "")


def _upload_button(at):
    return next(b for b in at.button if b.label.startswith("Upload and process"))


def _until_jobs_end(at, timeout_s: float = 30.0):
    """Run the page again (as the page's own one-second refresh does) until no upload is running."""
    deadline = time.monotonic() + timeout_s
    while at.get("progress") or any("Queued" in _plain(m.value) for m in at.markdown):
        assert time.monotonic() < deadline, [_plain(m.value) for m in at.markdown]
        time.sleep(0.2)
        at = at.run()
    return at


def test_upload_several_files_each_with_its_status(app_env, svc, setup):
    prof, _, klass = setup
    at = logged_in(app_env, "prof@example.edu", page_name="documents")
    assert _upload_button(at).disabled  # nothing chosen yet
    at.file_uploader[0].set_value([
        ("cells.pdf", make_pdf(["Cells are the unit of life.", "Mitochondria make ATP."]), PDF),
        ("notes.md", b"# Osmosis\n\nWater moves across a membrane toward higher solute concentration.",
         "text/markdown"),
        ("broken.pdf", corrupt_pdf(), PDF),
    ])
    at = at.run()
    assert not at.warning and not _upload_button(at).disabled  # all three can be tried
    at = _upload_button(at).click().run()
    assert not at.exception and not at.file_uploader[0].value  # emptied for the next files at once
    # every file has its row at once (queued, or already on its way), then the page follows them
    listed = "\n".join(_plain(m.value) for m in at.markdown)
    assert all(f"**{name}**" in listed for name in ("cells.pdf", "notes.md", "broken.pdf")), listed
    at = _until_jobs_end(at)
    # every file has its row, in the order chosen: what was indexed, or why it failed, in words
    cells, notes, broken = (_plain(m.value) for m in at.markdown[:3])
    assert re.search(r"\*\*cells\.pdf\*\* is ready \(2 pages, \d+ passages?\)", cells), cells
    assert "**notes.md** is ready (1 passage)" in notes
    assert "**broken.pdf** failed" in broken and "'broken.pdf' could not be opened as a PDF" in broken
    assert not at.get("progress")  # every bar gave way to its file's outcome
    assert "2 of 3 files are ready; 1 failed" in _plain(at.warning[0].value)
    docs = svc.documents.list(prof, klass.id)
    assert sorted(d.filename for d in docs) == ["cells.pdf", "notes.md"]
    page_text = _plain(texts(at))
    assert "Biology 101 · 2 documents" in page_text and "2 pages" in page_text
    # the uploader by name (registered as "Prof"), never by address: students read this list
    listed = "\n".join(_plain(m.value) for m in at.main.markdown)
    assert "2 pages · 1.4 KB · Prof · " in listed and "prof@example.edu" not in listed
    # the failure is also listed for later
    assert at.expander[-1].label.startswith("Recent failed uploads (1)")
    # the outcome stays visible after the next rerun
    # the rows stay, read from the jobs, after the next run and in a new session (a closed tab)
    for view in (at.run(), logged_in(app_env, "prof@example.edu", page_name="documents")):
        shown_rows = "\n".join(_plain(m.value) for m in view.markdown)
        assert "**cells.pdf** is ready (2 pages" in shown_rows
        assert "'broken.pdf' could not be opened as a PDF" in shown_rows


def test_every_file_is_listed_at_once_and_the_bar_moves_while_embedding(app_env, svc, setup, monkeypatch):
    """Held in the middle of embedding the first file: its row shows how far embedding got (from
    the job's row in the database), the others wait as Queued; nothing is half-saved; the same rows
    show in a new session (a closed tab); let go, every file ends ready."""
    from core.search.embeddings import FakeEmbedder

    prof, student, klass = setup
    real_embed, calls, hold = FakeEmbedder.embed, [], threading.Event()

    def embed_then_wait(self, texts):
        if len(texts) == 1:  # the model's warm-up after login, not the upload's groups
            return real_embed(self, texts)
        calls.append(len(texts))
        if len(calls) == 2:
            assert hold.wait(60), "never let go"
        return real_embed(self, texts)

    monkeypatch.setattr(FakeEmbedder, "embed", embed_then_wait)
    long_text = " ".join(f"Passage word{i} about membranes and transport." for i in range(2400)).encode()
    at = logged_in(app_env, "prof@example.edu", page_name="documents")
    at.file_uploader[0].set_value([("long.txt", long_text, "text/plain"),
                                   ("a.md", b"# A\n\nSome text.", "text/markdown"),
                                   ("b.txt", b"More text.", "text/plain")])
    at = _upload_button(at.run()).click().run()
    try:
        deadline = time.monotonic() + 40
        while len(calls) < 2 or not at.get("progress") or "32/" not in at.get("progress")[0].proto.text:
            assert time.monotonic() < deadline, [_plain(m.value) for m in at.markdown]
            time.sleep(0.1)
            at = at.run()
        for view in (at, logged_in(app_env, "prof@example.edu", page_name="documents")):
            assert [_plain(m.value) for m in view.markdown][:3] == [
                ":blue[:material/progress_activity:] **long.txt** · :gray[111.4 KB]",
                ":gray[:material/schedule:] **a.md** · :gray[15 B · Queued]",
                ":gray[:material/schedule:] **b.txt** · :gray[10 B · Queued]"]
            (bar,) = view.get("progress")
            done, total = map(int, re.fullmatch(r"Embedding (\d+)/(\d+) passages", bar.proto.text).groups())
            assert (done, calls[0]) == (32, 32) and total > 64, bar.proto.text  # held in the second of 3+ groups
            assert bar.proto.value == int(100 * (0.1 + 0.85 * 32 / total))
        # the instructor sees them as processing (and may delete one); students see none of them yet
        assert {d.status for d in svc.documents.list(prof, klass.id)} == {"processing"}
        assert svc.documents.list(student, klass.id) == []
    finally:
        hold.set()
    at = _until_jobs_end(at)
    assert "Done: all 3 files are ready." in _plain(at.success[0].value)
    assert sorted(d.filename for d in svc.documents.list(prof, klass.id)) == ["a.md", "b.txt", "long.txt"]


def test_a_type_it_cannot_read_is_explained_before_upload(app_env, svc, setup):
    prof, _, klass = setup
    at = logged_in(app_env, "prof@example.edu", page_name="documents")
    at.file_uploader[0].set_value([("week1.ppt", b"\xd0\xcf\x11\xe0 old deck", "application/vnd.ms-powerpoint"),
                                   ("grades.xlsx", b"PK\x03\x04 sheet", "application/octet-stream"),
                                   ("notes.txt", b"Osmosis moves water across membranes.", "text/plain")])
    at = at.run()  # chosen, not submitted
    (warning,) = at.warning
    reasons = _plain(warning.value)
    assert "2 files cannot be uploaded" in reasons
    assert "'week1.ppt' is an old PowerPoint format (.ppt)" in reasons and "save it as .pptx" in reasons
    assert "'grades.xlsx' is a spreadsheet (.xlsx), which ClassGPT cannot read" in reasons
    assert "Supported types: PDF (.pdf)" in reasons
    button = _upload_button(at)
    assert button.label == "Upload and process 1 of 3 files" and not button.disabled
    at = button.click().run()
    assert not at.exception
    assert [d.filename for d in svc.documents.list(prof, klass.id)] == ["notes.txt"]
    assert svc.documents.failures(prof, klass.id) == []  # the other two were never sent to upload

    # only files it cannot read: the button says why it is off
    at = logged_in(app_env, "prof@example.edu", page_name="documents")
    at.file_uploader[0].set_value([("photo.jpg", b"\xff\xd8\xff jpeg", "image/jpeg")])
    at = at.run()
    assert "'photo.jpg' is an image (.jpg)" in _plain(at.warning[0].value)
    button = _upload_button(at)
    assert button.disabled and button.label == "Upload and process"
    assert "None of the chosen files can be uploaded" in button.help


def test_delete_asks_to_confirm(app_env, svc, setup):
    prof, _, klass = setup
    doc = upload(svc, prof, klass.id, "cells.pdf", make_pdf(["Cells are the unit of life."]))
    at = logged_in(app_env, "prof@example.edu", page_name="documents")
    at = at.button(key=f"delete_{doc.document_id}").click().run()
    assert "Delete **cells.pdf**?" in shown(at.warning[0].value)
    assert len(svc.documents.list(prof, klass.id)) == 1
    at = at.button(key=f"delete_yes_{doc.document_id}").click().run()
    assert not at.exception
    assert svc.documents.list(prof, klass.id) == []
    assert "Deleted **cells.pdf**" in shown(at.success[0].value)


def test_students_see_the_list_read_only(app_env, svc, setup):
    prof, _, klass = setup
    doc = upload(svc, prof, klass.id, "cells.pdf", make_pdf(["Cells are the unit of life."]))
    at = logged_in(app_env, "stu@example.edu", page_name="documents")
    assert not at.exception
    assert not at.file_uploader
    assert "Your instructor manages this class's documents" in texts(at)
    assert "cells.pdf" in _plain(texts(at))
    assert not [b for b in at.button if b.key and b.key.startswith("delete_")]
    assert at.get("download_button")  # students may download the original
    assert doc.ok


def test_a_student_with_no_documents_yet(app_env, setup):
    at = logged_in(app_env, "stu@example.edu", page_name="documents")
    assert "Your instructor has not uploaded any documents yet." in shown(at.info[0].value)


# Markdown image syntax (a filename has no "/", so the address is relative), a Streamlit directive, LaTeX
TRAP = "![x](tracker.png) :red[alert] $x$.txt"


def _markdown_sources(at) -> str:
    """Every Markdown source the page sends to the browser (what Streamlit renders)."""
    parts = [str(e.value) for kind in ("markdown", "caption", "success", "error", "warning", "info", "subheader")
             for e in getattr(at, kind)]
    parts += [str(e.label) for e in at.expander]
    return "\n".join(parts)


def test_a_filename_in_markdown_syntax_is_shown_as_text(app_env, svc, setup):
    prof, _, klass = setup
    at = logged_in(app_env, "prof@example.edu", page_name="documents")
    at.file_uploader[0].set_value([(TRAP, b"Osmosis moves water across membranes.", "text/plain")])
    at = _until_jobs_end(_upload_button(at.run()).click().run())
    assert not at.exception
    sources = _markdown_sources(at)
    assert TRAP in _plain(sources)  # shown as it was named
    assert "![x](" not in sources and ":red[" not in sources and "$x$" not in sources  # nothing to render
    assert r"\!\[x\]\(tracker\." "\u200b" r"png\)" in sources  # escaped (and free to wrap after the dot)
    # the students' view of the list, and a failure that quotes the name, escape it too
    upload(svc, prof, klass.id, "![y](tracker2.png).xyz", b"data")
    for email in ("stu@example.edu", "prof@example.edu"):
        at = logged_in(app_env, email, page_name="documents")
        sources = _markdown_sources(at)
        assert "![x](" not in sources and "![y](" not in sources and TRAP in _plain(sources)


def test_upload_instructors_only_then_release_it_from_the_table(app_env, svc, setup):
    prof, stu, klass = setup
    at = logged_in(app_env, "prof@example.edu", page_name="documents")
    at.file_uploader[0].set_value([("key.pdf", make_pdf(["The secret constant is 7431."]), PDF)])
    at = at.run()
    at.checkbox(key="upload_hidden").check()
    at = _until_jobs_end(_upload_button(at).click().run())
    assert not at.exception
    (doc,) = svc.documents.list(prof, klass.id)
    assert doc.instructors_only and svc.documents.list(stu, klass.id) == []
    assert "Instructors only" in texts(at)
    at = logged_in(app_env, "stu@example.edu", page_name="documents")
    assert "key.pdf" not in texts(at)
    # the per-document control: clear "Instructors only", release from a date in the past
    at = logged_in(app_env, "prof@example.edu", page_name="documents")
    at.checkbox(key=f"visibility_{doc.id}_hidden").uncheck()
    at.date_input(key=f"visibility_{doc.id}_day").set_value(date(2020, 1, 2))
    at = next(b for b in at.button if b.label == "Save").click().run()
    assert not at.exception
    (doc,) = svc.documents.list(stu, klass.id)
    assert not doc.instructors_only and doc.release_at == datetime(2020, 1, 2, tzinfo=timezone.utc)
    assert "Saved who sees **key.pdf**" in shown(at.success[0].value)
