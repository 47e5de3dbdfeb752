import threading

import pytest

from core.errors import (
    CorruptPDF,
    EmptyFile,
    EncryptedPDF,
    FileTooLarge,
    IngestError,
    NoExtractableText,
    UnsupportedType,
)
from core.ingest.extract import detect_content_type, extract
from core.ingest.formats import SUPPORTED, ExtractedDocument, Page
from tests.factories import corrupt_pdf, make_encrypted_pdf, make_image_only_pdf, make_pdf


# --- PDFs -------------------------------------------------------------------------------


def test_pdf_pages_keep_their_numbers_and_blank_pages_count():
    data = make_pdf(["Gradient descent minimises the loss.", "", "Backpropagation applies the chain rule."])
    doc = extract("lecture.pdf", data)
    assert doc.content_type == "application/pdf"
    assert doc.page_count == 3
    assert [p.number for p in doc.pages] == [1, 2, 3]
    assert doc.pages[0].text == "Gradient descent minimises the loss."
    assert doc.pages[1].text == ""
    assert doc.pages[2].text == "Backpropagation applies the chain rule."


def test_long_pdf_text_wraps_but_words_stay_separate():
    words = [f"token{i}" for i in range(300)]
    doc = extract("long.pdf", make_pdf([" ".join(words)]))
    assert doc.pages[0].text.split() == words  # no words glued together at line ends


def test_pdf_with_empty_user_password_just_works():
    doc = extract("owner-locked.pdf", make_encrypted_pdf(["Readable by anyone."], password=""))
    assert doc.pages == [Page(1, "Readable by anyone.")]


def test_password_protected_pdf():
    with pytest.raises(EncryptedPDF, match="'secret.pdf' is password-protected"):
        extract("secret.pdf", make_encrypted_pdf(["hidden"], password="secret"))


def test_scanned_pdf_needs_ocr():
    with pytest.raises(NoExtractableText, match=r"'scan\.pdf'.*scan.*OCR"):
        extract("scan.pdf", make_image_only_pdf(2))


def test_truncated_pdf_is_corrupt():
    with pytest.raises(CorruptPDF, match="damaged or incomplete"):
        extract("broken.pdf", corrupt_pdf())


def test_pdf_name_on_non_pdf_content_is_corrupt_with_clear_message():
    with pytest.raises(CorruptPDF, match=r"'notes\.pdf' is named \.pdf but is not a PDF"):
        extract("notes.pdf", b"Just some text, not a PDF at all.")


def test_pdf_with_only_a_header_is_corrupt():
    with pytest.raises(CorruptPDF):
        extract("header.pdf", b"%PDF-1.7\n" + bytes(range(256)) * 4)


def test_extraction_is_thread_safe():
    data = make_pdf([f"Page {n} text." for n in range(1, 6)])
    alone = extract("t.pdf", data)
    assert [p.text for p in alone.pages] == [f"Page {n} text." for n in range(1, 6)]
    results, errors = [], []

    def work():
        try:
            for _ in range(5):
                results.append(extract("t.pdf", data))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 20 and all(r == alone for r in results)


def test_pdf_pages_carry_the_labels_the_pdf_declares():
    """A book's front matter is i, ii, iii and its page 1 comes after: the label is what a reader
    looks for, the number (index) is what a viewer opens. Labels equal to the index add nothing."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    for i, style in enumerate(["r", None, None, "D", None]):
        pdf.add_page(label_style=style, label_start=1 if style else None)
        pdf.cell(0, 10, f"Text of sheet {i + 1}.")
    doc = extract("book.pdf", bytes(pdf.output()))
    assert [(p.number, p.label) for p in doc.pages] == [(1, "i"), (2, "ii"), (3, "iii"), (4, "1"), (5, "2")]
    # without /PageLabels every label is None, and the index is what gets cited
    assert {p.label for p in extract("plain.pdf", make_pdf(["One.", "Two."])).pages} == {None}


def test_text_files_have_no_page_label():
    assert extract("notes.txt", b"Just notes.").pages == [Page(None, "Just notes.", None)]


# --- text files -------------------------------------------------------------------------


def test_txt_has_one_page_without_number():
    doc = extract("notes.txt", b"First paragraph.\r\n\r\n\r\n\r\nSecond   paragraph.\n")
    assert doc == ExtractedDocument("text/plain", [Page(None, "First paragraph.\n\nSecond paragraph.")], 0)


@pytest.mark.parametrize("name", ["README.md", "notes.MARKDOWN"])
def test_markdown(name):
    doc = extract(name, "# Week 1\n\n* Entropy — a measure of surprise\n".encode())
    assert doc.content_type == "text/markdown"
    assert doc.pages[0].text == "# Week 1\n\n* Entropy — a measure of surprise"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("café naïve".encode("utf-8"), "café naïve"),
        (b"\xef\xbb\xbf" + "café".encode("utf-8"), "café"),  # UTF-8 with BOM
        ("café “quoted”".encode("cp1252"), "café “quoted”"),  # Windows-1252
        ("Grüße".encode("latin-1"), "Grüße"),
        ("unicode ✓ text".encode("utf-16"), "unicode ✓ text"),  # has a BOM
    ],
)
def test_text_encodings(data, expected):
    assert extract("a.txt", data).pages[0].text == expected


def test_control_characters_are_stripped():
    assert extract("a.txt", b"tab\there\x07 bell\x1b[0m").pages[0].text == "tab here bell [0m"


def test_binary_named_txt_is_unsupported():
    with pytest.raises(UnsupportedType, match="binary data"):
        extract("data.txt", b"\x00\x01\x02\x03binary\x00stuff" * 10)


def test_image_named_md_is_unsupported():
    with pytest.raises(UnsupportedType, match="PNG image"):
        extract("diagram.md", b"\x89PNG\r\n\x1a\n" + b"\x00" * 50)


def test_pdf_named_txt_is_unsupported_and_says_so():
    with pytest.raises(UnsupportedType, match="is a PDF"):
        extract("slides.txt", make_pdf(["hello"]))


# --- size, emptiness, type --------------------------------------------------------------


@pytest.mark.parametrize("name", ["empty.pdf", "empty.txt", "empty.md"])
def test_zero_bytes_is_empty(name):
    with pytest.raises(EmptyFile, match=f"'{name}' is empty"):
        extract(name, b"")


def test_whitespace_only_text_is_empty():
    with pytest.raises(EmptyFile, match="only blank space"):
        extract("blank.txt", b" \n\t\r\n  \n")


def test_too_large_names_size_and_limit():
    with pytest.raises(FileTooLarge, match=r"'big\.txt' is 3\.0 MB, over the 2 MB upload limit"):
        extract("big.txt", b"a" * (3 * 1024 * 1024), max_bytes=2 * 1024 * 1024)
    with pytest.raises(FileTooLarge, match=r"is 2\.02 MB, over the 2 MB"):
        extract("big.txt", b"a" * (2 * 1024 * 1024 + 20000), max_bytes=2 * 1024 * 1024)
    assert extract("ok.txt", b"a" * 100, max_bytes=100).pages[0].text == "a" * 100


@pytest.mark.parametrize("name", ["Makefile", "photo.jpg"])
def test_unknown_extension_lists_supported_types(name):
    with pytest.raises(UnsupportedType, match=r"Supported types: PDF \(\.pdf\), plain text \(\.txt\) and Markdown"):
        extract(name, b"anything")


def test_messages_use_the_bare_file_name():
    with pytest.raises(EmptyFile, match=r"^'notes\.txt' is empty"):
        extract("C:\\Users\\me\\notes.txt", b"")


def test_detect_content_type():
    assert detect_content_type("A.PDF", make_pdf(["x"])) == "application/pdf"
    assert detect_content_type("a.txt", b"hello") == "text/plain"
    assert detect_content_type("a.markdown", b"# hi") == "text/markdown"
    assert set(SUPPORTED) == {".pdf", ".pptx", ".docx", ".txt", ".md", ".markdown"}


def test_every_ingest_error_is_an_ingest_error():
    for exc in (EmptyFile, UnsupportedType, FileTooLarge, EncryptedPDF, CorruptPDF, NoExtractableText):
        assert issubclass(exc, IngestError)
