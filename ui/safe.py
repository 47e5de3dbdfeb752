"""Text from a user or a document, made safe to place in the app's Markdown.

Streamlit renders Markdown in st.markdown, captions, alerts, labels and tooltips: a filename like
`![x](https://…)` would make every viewer's browser fetch that address, `:red[…]` would colour,
and an answer starting with "1." would become a list. Every Markdown and Streamlit markup
character is escaped here, so the text shows exactly as written; only the app's own formatting
around it remains. (Selectbox options, input values and placeholders are plain text already.)
"""
from __future__ import annotations

import re

# CommonMark lets a backslash escape any ASCII punctuation; these are the ones that mean
# something to Markdown, GFM or Streamlit (":" directives and shortcodes, "$" LaTeX, "&" entities).
_MARKUP = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&=^\"'])")
_NBSP = "\u00a0"


def inline(text: object) -> str:
    """One line of text, shown literally (line breaks become spaces)."""
    return _MARKUP.sub(r"\\\1", " ".join(str(text).split()))


def block(text: object) -> str:
    """Several lines of text, shown literally with their line breaks and indentation."""
    lines = []
    for line in str(text).replace("\r\n", "\n").split("\n"):
        stripped = line.lstrip(" \t")
        indent = _NBSP * (len(line) - len(stripped))  # leading spaces would be collapsed or start code
        body = re.sub(r" {2,}", lambda m: _NBSP * len(m.group()), _MARKUP.sub(r"\\\1", stripped))
        lines.append(indent + body)
    # a hard break ends each line; an empty line keeps separating paragraphs
    return "  \n".join(lines).replace("  \n  \n", "\n\n")
