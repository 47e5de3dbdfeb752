"""ui/safe.py: text from users and documents shows literally inside the app's Markdown."""
import re

import pytest

from ui.safe import block, inline


def unescape(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown)


@pytest.mark.parametrize("text", [
    "![x](https://tracker.example/p.png)", "[link](javascript:alert(1))", "<img src=x onerror=alert(1)>",
    ":red[alert] :material/warning: :smile:", "$\\frac{1}{2}$", "**bold** _it_ `code` ~~del~~",
    "# heading", "1. list", "- item", "> quote", "| a | b |", "&#33;[x](y)", "\\*already escaped\\*",
])
def test_every_markup_character_is_escaped_and_nothing_else_changes(text):
    escaped = inline(text)
    assert unescape(escaped) == text
    # no markup character is left unescaped
    assert not re.search(r"(?<!\\)[!\[\]()<>:$*_`~#|&]", escaped.replace("\\\\", "")), escaped


def test_inline_is_one_line():
    assert inline("two\nlines  and\tspaces") == "two lines and spaces"


def test_block_keeps_line_breaks_paragraphs_and_indentation():
    text = "def f(n):\n    return f(n - 1)\n\n>>> f(3)"
    shown = block(text)
    assert shown.split("\n\n")[0] == "def f\\(n\\)\\:  \n" + "\u00a0" * 4 + "return f\\(n \\- 1\\)"
    assert shown.split("\n\n")[1] == "\\>\\>\\> f\\(3\\)"
    assert unescape(shown).replace("\u00a0", " ").replace("  \n", "\n") == text
