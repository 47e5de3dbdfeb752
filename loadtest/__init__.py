"""The load test: many students asking at once, through the real app's websocket, as browsers do.

A client of the app, like a browser: outside `core` (which knows no screen), it speaks Streamlit's
wire format (its protobuf messages) to `streamlit run app.py`, and uses `core` only to seed the
throwaway database before the servers start. `python -m loadtest --help`; docs/load.md.
"""
