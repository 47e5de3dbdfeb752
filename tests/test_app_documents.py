"""Documents page (AppTest): upload several files at once with a status each, list, delete;
students read the list only."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from tests.app_support import PASSWORD, app_env, logged_in, setup, svc, shown, texts  # noqa: F401
from tests.factories import corrupt_pdf, make_pdf

PDF = "application/pdf"



def test_empty_class_tells_the_instructor_to_upload(app_env, setup):
    at = logged_in(app_env, "prof@example.edu", page_name="documents")
    assert at.title[0].value == "Documents"
    assert "No documents yet. Upload lecture slides" in shown(at.info[0].value)
    assert at.file_uploader[0].accept_multiple_files


def test_upload_several_files_each_with_its_status(app_env, svc, setup):
    prof, _, klass = setup
    at = logged_in(app_env, "prof@example.edu", page_name="documents")
    at.file_uploader[0].set_value([
        ("cells.pdf", make_pdf(["Cells are the unit of life.", "Mitochondria make ATP."]), PDF),
        ("notes.md", b"# Osmosis\n\nWater moves across a membrane toward higher solute concentration.", "text/markdown"),
        ("broken.pdf", corrupt_pdf(), PDF),
    ])
    at = next(b for b in at.button if b.label == "Upload and process").click().run()
    assert not at.exception
    labels = [shown(s.label) for s in at.status]
    assert labels[0].startswith("**cells.pdf** is ready (2 pages, ")
    assert labels[1].startswith("**notes.md** is ready")
    assert labels[2] == "**broken.pdf** failed"
    assert [s.state for s in at.status] == ["complete", "complete", "error"]
    assert "broken.pdf" in shown(at.error[0].value)  # the specific reason, next to its file
    docs = svc.documents.list(prof, klass.id)
    assert sorted(d.filename for d in docs) == ["cells.pdf", "notes.md"]
    page_text = texts(at)
    assert "cells.pdf" in page_text and "2 pages" in page_text and "prof@example.edu" in page_text
    assert "Biology 101 · 2 documents" in page_text
    # the failure is also listed for later
    assert at.expander[-1].label.startswith("Recent failed uploads (1)")
    # the outcome stays visible after the next rerun
    at = at.run()
    assert any("cells.pdf" in shown(s.value) for s in at.success) and any("broken.pdf" in shown(e.value) for e in at.error)


def test_delete_asks_to_confirm(app_env, svc, setup):
    prof, _, klass = setup
    doc = svc.documents.upload(prof, klass.id, "cells.pdf", make_pdf(["Cells are the unit of life."]))
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
    doc = svc.documents.upload(prof, klass.id, "cells.pdf", make_pdf(["Cells are the unit of life."]))
    at = logged_in(app_env, "stu@example.edu", page_name="documents")
    assert not at.exception
    assert not at.file_uploader
    assert "Your instructor manages this class's documents" in texts(at)
    assert "cells.pdf" in texts(at)
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
    parts += [str(s.label) for s in at.status] + [str(e.label) for e in at.expander]
    return "\n".join(parts)


def test_a_filename_in_markdown_syntax_is_shown_as_text(app_env, svc, setup):
    prof, _, klass = setup
    at = logged_in(app_env, "prof@example.edu", page_name="documents")
    at.file_uploader[0].set_value([(TRAP, b"Osmosis moves water across membranes.", "text/plain")])
    at = next(b for b in at.button if b.label == "Upload and process").click().run()
    assert not at.exception
    sources = _markdown_sources(at)
    assert TRAP in texts(at) or TRAP in shown(sources)  # shown as it was named
    assert "![x](" not in sources and ":red[" not in sources and "$x$" not in sources  # nothing to render
    assert r"\!\[x\]\(tracker\.png\)" in sources
    # the students' view of the list, and a failure that quotes the name, escape it too
    svc.documents.upload(prof, klass.id, "![y](tracker2.png).xyz", b"data")
    for email in ("stu@example.edu", "prof@example.edu"):
        at = logged_in(app_env, email, page_name="documents")
        sources = _markdown_sources(at)
        assert "![x](" not in sources and "![y](" not in sources and TRAP in shown(sources)


def test_upload_instructors_only_then_release_it_from_the_table(app_env, svc, setup):
    prof, stu, klass = setup
    at = logged_in(app_env, "prof@example.edu", page_name="documents")
    at.file_uploader[0].set_value([("key.pdf", make_pdf(["The secret constant is 7431."]), PDF)])
    at.checkbox(key="upload_hidden").check()
    at = next(b for b in at.button if b.label == "Upload and process").click().run()
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
