"""ClassGPT's core: everything but the screen (docs/architecture.md draws the house).

services/ what the app and the CLI call · ingest/ files to passages · search/ finding passages ·
storage/ the original files · ops/ operator tasks · measure/ eval and bench · cli/ `python -m core`.
"""
