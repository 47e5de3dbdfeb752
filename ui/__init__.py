"""Streamlit-side helpers shared by app.py and the pages (no business logic: that is core/)."""
