"""Page pictures: size, bounds, thread safety, and the cited passage highlighted on its page."""
import ctypes
import io
import threading

import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
from PIL import Image

from core.errors import NotFound, ValidationError
from core.ingest.pdf import render_page_png
from tests.factories import make_pdf, upload

PDF = make_pdf(["First page", "Second page", ""])


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(data)) as image:
        return image.size


@pytest.mark.parametrize("width", [900, 333, 64])
def test_renders_png_of_requested_width_with_a4_proportions(width):
    w, h = png_size(render_page_png(PDF, 1, width_px=width))
    assert w == width
    assert h == pytest.approx(width * 297 / 210, abs=2)


def test_last_and_blank_pages_render():
    assert png_size(render_page_png(PDF, 3))[0] == 900


def test_page_with_text_is_not_blank():
    with Image.open(io.BytesIO(render_page_png(PDF, 1, 400))) as image:
        lo, hi = image.convert("L").getextrema()
    assert lo < 128 < hi  # dark text on a light page


@pytest.mark.parametrize("page", [4, 100])
def test_page_beyond_the_end_is_not_found(page):
    with pytest.raises(NotFound, match="has 3 page"):
        render_page_png(PDF, page)


@pytest.mark.parametrize("page", [0, -1])
def test_page_numbers_start_at_one(page):
    with pytest.raises(ValidationError):
        render_page_png(PDF, page)


@pytest.mark.parametrize("width", [0, -5, 100_000])
def test_bad_width(width):
    with pytest.raises(ValidationError):
        render_page_png(PDF, 1, width_px=width)


def test_rendering_is_thread_safe():
    alone = {page: render_page_png(PDF, page, 200) for page in (1, 2, 3)}
    assert len(set(alone.values())) == 3  # the pages differ, so a mixed-up render would show
    results, errors = [], []

    def work(page):
        try:
            for _ in range(3):
                results.append((page, render_page_png(PDF, page, 200)))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(p,)) for p in (1, 2, 3, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 12
    assert all(png == alone[page] for page, png in results)


def test_a_huge_page_is_refused_before_pdfium_allocates_it():
    """A tiny PDF can declare a page of any size: 3 mm by 5 m would be a 1 G pixel preview."""
    from fpdf import FPDF

    pdf = FPDF(format=(3, 5000))
    pdf.add_page()
    data = bytes(pdf.output())
    assert len(data) < 2000
    with pytest.raises(ValidationError, match="too large to preview"):
        render_page_png(data, 1, width_px=800)
    assert png_size(render_page_png(data, 1, width_px=4))[0] == 4  # a thumbnail of it is fine


# --- the cited passage, highlighted ----------------------------------------------------------

LEAD = "Photosynthesis turns light energy into chemical energy in plants. " * 4
PASSAGE = "The Calvin cycle takes place in the stroma of the chloroplast and fixes carbon dioxide into sugars."
TAIL = " Respiration releases the energy again in the mitochondria. " * 3
TEXT_PDF = make_pdf([LEAD + PASSAGE + TAIL, "A second page about something else entirely: the history of botany."])


def pixels(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as image:
        return np.asarray(image.convert("RGB"), dtype=np.int16)


def changed(plain: bytes, marked: bytes) -> np.ndarray:
    """Where the two renders differ, as a boolean mask."""
    return np.abs(pixels(plain) - pixels(marked)).sum(axis=2) > 0


def passage_mask(pdf: bytes, page: int, width: int, text: str) -> np.ndarray:
    """Where the passage's glyphs are, line by line (a line's box runs from its first to its last
    character, spaces included, top of the tallest glyph to the bottom of the lowest), found
    independently of the code under test: pdfium's own search, then each character's tight box."""
    doc = pdfium.PdfDocument(pdf)
    try:
        p = doc[page - 1]
        w_pt, h_pt = p.get_size()
        scale = width / w_pt
        mask = np.zeros((pixels(render_page_png(pdf, page, width)).shape[0], width), dtype=bool)
        textpage = p.get_textpage()
        searcher = textpage.search(text, match_case=True)
        hit = searcher.get_next()
        assert hit is not None, "the passage must be on the page"
        lines: dict[int, list] = {}
        for i in range(hit[0], hit[0] + hit[1]):
            left, bottom, right, top = textpage.get_charbox(i)
            x, baseline = ctypes.c_double(), ctypes.c_double()
            pdfium_c.FPDFText_GetCharOrigin(textpage, i, x, baseline)
            if right > left:
                lines.setdefault(round(baseline.value), []).append((left, bottom, right, top))
        for boxes in lines.values():
            left = min(b[0] for b in boxes) * scale
            right = max(b[2] for b in boxes) * scale
            top = (h_pt - max(b[3] for b in boxes)) * scale
            bottom = (h_pt - min(b[1] for b in boxes)) * scale
            mask[round(top):round(bottom), round(left):round(right)] = True
        searcher.close()
        textpage.close()
        p.close()
    finally:
        doc.close()
    return mask


def grow(mask: np.ndarray, px: int) -> np.ndarray:
    """The mask widened by px pixels on every side (the highlight's margin and rounding)."""
    out = mask.copy()
    for dy in range(-px, px + 1):
        for dx in range(-px, px + 1):
            out |= np.roll(np.roll(mask, dy, axis=0), dx, axis=1)
    return out


def test_the_highlight_covers_the_passage_and_nothing_else():
    plain = render_page_png(TEXT_PDF, 1, 800)
    marked = render_page_png(TEXT_PDF, 1, 800, highlight=PASSAGE)
    diff = changed(plain, marked)
    where = passage_mask(TEXT_PDF, 1, 800, PASSAGE)
    assert where.sum() > 2000  # two lines of text, sanity
    assert diff[where].mean() > 0.95  # the passage's lines are marked, gaps between words too
    assert not diff[~grow(where, 3)].any()  # and nothing outside them (3 px: margin and rounding)
    # translucent: the text stays darker than its highlighted background
    marked_px = pixels(marked)[where]
    assert marked_px.sum(axis=1).min() < 400 < marked_px.sum(axis=1).max()


def test_the_highlight_is_yellow_and_only_on_the_passage():
    marked = pixels(render_page_png(TEXT_PDF, 1, 800, highlight=PASSAGE))
    r, g, b = marked[..., 0], marked[..., 1], marked[..., 2]
    yellow = (r > 200) & (g > 150) & (b < 200) & (r - b > 80)
    where = grow(passage_mask(TEXT_PDF, 1, 800, PASSAGE), 3)
    assert yellow[where].sum() > 1000 and yellow[~where].sum() == 0


def test_matching_ignores_whitespace_case_and_line_breaks():
    """Stored passages are whitespace-normalised; the page breaks lines where it likes."""
    exact = render_page_png(TEXT_PDF, 1, 600, highlight=PASSAGE)
    loose = render_page_png(TEXT_PDF, 1, 600, highlight="  the CALVIN cycle\ntakes place in the stroma of the\n\n"
                                                         "chloroplast and fixes carbon dioxide into sugars.  ")
    assert loose == exact != render_page_png(TEXT_PDF, 1, 600)


@pytest.mark.parametrize("passage", [
    "Mitosis divides the nucleus of a eukaryotic cell into two identical nuclei.",  # not in the document
    "A second page about something else entirely: the history of botany.",  # on the other page
    "", "   \n ", "...",  # nothing to look for
])
def test_a_passage_not_on_the_page_leaves_it_as_it_is(passage):
    assert render_page_png(TEXT_PDF, 1, 500, highlight=passage) == render_page_png(TEXT_PDF, 1, 500)


def test_a_blank_page_with_a_highlight_renders_plainly():
    assert render_page_png(PDF, 3, 300, highlight=PASSAGE) == render_page_png(PDF, 3, 300)


def test_a_passage_that_runs_over_from_the_previous_page_is_marked_where_it_is():
    first = "Lorem materials section. " * 3 + "Enzymes lower the activation energy of a reaction without being consumed"
    second = "by it, so one enzyme molecule can catalyse many reactions in turn. Unrelated closing remarks follow."
    pdf = make_pdf([first, second])
    passage = ("Enzymes lower the activation energy of a reaction without being consumed by it, so one enzyme "
               "molecule can catalyse many reactions in turn.")
    on_two = "by it, so one enzyme molecule can catalyse many reactions in turn."
    diff = changed(render_page_png(pdf, 2, 800), render_page_png(pdf, 2, 800, highlight=passage))
    where = passage_mask(pdf, 2, 800, on_two)
    assert diff[where].mean() > 0.95 and not diff[~grow(where, 3)].any()
    on_one = "Enzymes lower the activation energy of a reaction without being consumed"
    diff = changed(render_page_png(pdf, 1, 800), render_page_png(pdf, 1, 800, highlight=passage))
    where = passage_mask(pdf, 1, 800, on_one)
    assert diff[where].mean() > 0.95 and not diff[~grow(where, 3)].any()


def test_a_passage_that_reads_a_little_differently_is_still_found():
    """A glyph the font maps oddly, or a word changed: the shared runs either side are marked."""
    variant = PASSAGE.replace("stroma", "str0ma")
    diff = changed(render_page_png(TEXT_PDF, 1, 800), render_page_png(TEXT_PDF, 1, 800, highlight=variant))
    where = passage_mask(TEXT_PDF, 1, 800, PASSAGE)
    assert diff[where].mean() > 0.85 and not diff[~grow(where, 3)].any()


def test_a_few_words_in_common_are_not_the_passage():
    """Shared phrases ("light energy into chemical energy") elsewhere on a page are no highlight."""
    passage = ("In animals, light energy into chemical energy is not a thing at all; they eat plants and fungi "
               "and digest what those made, then breathe out carbon dioxide.")
    assert render_page_png(TEXT_PDF, 1, 400, highlight=passage) == render_page_png(TEXT_PDF, 1, 400)


def test_a_running_header_is_not_the_passage_that_starts_with_it():
    """The header on every page repeats a passage's first words: on another page, no highlight."""
    header = "Biology 101 lecture notes by Professor Jane Smith for the autumn term."
    pdf = make_pdf([f"{header}\n{PASSAGE}", f"{header}\nThe history of botany begins with herbals and gardens."])
    passage = f"{header} {PASSAGE}"
    assert render_page_png(pdf, 2, 400, highlight=passage) == render_page_png(pdf, 2, 400)
    assert render_page_png(pdf, 1, 400, highlight=passage) != render_page_png(pdf, 1, 400)


def test_the_highlight_follows_a_rotated_page():
    """A page with /Rotate 90 is drawn turned: the highlight must turn with it."""
    doc = pdfium.PdfDocument(make_pdf([PASSAGE]))
    doc[0].set_rotation(90)
    out = io.BytesIO()
    doc.save(out)
    doc.close()
    rotated = out.getvalue()
    plain = pixels(render_page_png(rotated, 1, 600))
    marked = render_page_png(rotated, 1, 600, highlight=PASSAGE)
    assert plain.shape[1] > plain.shape[0]  # landscape now
    ink = plain.sum(axis=2) < 300  # the passage is the only text on the page
    diff = changed(render_page_png(rotated, 1, 600), marked)
    ys, xs = np.nonzero(ink)
    assert diff[ys, xs].mean() > 0.95  # every bit of ink is under the highlight
    dys, dxs = np.nonzero(diff)
    # and hugs it: across the (now vertical) line to a few pixels, along it to about a character
    # (a line's box runs to the end of its last character's advance, past the final period's ink)
    assert dxs.min() >= xs.min() - 4 and dxs.max() <= xs.max() + 4
    assert dys.min() >= ys.min() - 12 and dys.max() <= ys.max() + 12


def test_a_passage_far_too_long_is_refused():
    with pytest.raises(ValidationError, match="at most 20,000 characters"):
        render_page_png(TEXT_PDF, 1, 200, highlight="x" * 20_001)


def test_highlighted_previews_are_cached_per_passage(services, instructor):
    klass = services.classes.create(instructor, "Biology")
    doc_id = upload(services, instructor, klass.id, "bio.pdf", TEXT_PDF).document_id
    plain = services.documents.page_preview(instructor, doc_id, 1, 300)
    marked = services.documents.page_preview(instructor, doc_id, 1, 300, highlight=PASSAGE)
    assert plain == render_page_png(TEXT_PDF, 1, 300)
    assert marked == render_page_png(TEXT_PDF, 1, 300, highlight=PASSAGE) != plain
    cached = services.documents._previews
    assert len(cached) == 2
    assert services.documents.page_preview(instructor, doc_id, 1, 300, highlight=PASSAGE) is marked  # from the cache
