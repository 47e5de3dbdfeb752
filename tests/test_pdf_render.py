import io
import threading

import pytest
from PIL import Image

from core.errors import NotFound, ValidationError
from core.ingest.pdf import render_page_png
from tests.factories import make_pdf

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
