"""From an uploaded file to page-numbered passages: `extract` (PDF, text, Markdown; the reasons a
file is refused), `pdf` (every pdfium call, under its lock), `chunking` and `text` (sentences)."""
