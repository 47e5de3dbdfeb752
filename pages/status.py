"""Status (admins only): database and storage health, counts, ingestion failures and query
latency over the last 24 hours. app.py lists this page for admins only; it checks again."""
from __future__ import annotations

import streamlit as st

from ui.state import get_services, require_actor

actor = require_actor()
if not actor.is_admin:
    # a second lock: app.py does not list this page for non-admins
    st.error("The Status page is for administrators (made by the operator: `python -m core grant-admin EMAIL`).")
    st.stop()

st.title("Status")
if st.button("Refresh", icon=":material/refresh:"):
    st.rerun()
status = get_services().status.report(actor)


def _ms(value) -> str:
    return "–" if value is None else f"{value:,.0f} ms" if value >= 10 else f"{value:.1f} ms"


left, right = st.columns(2)
with left:
    db = status["database"]
    with st.container(border=True):
        st.markdown(f"**Database** · {db['dialect']}")
        if db["ok"]:
            st.success(f"Healthy · SELECT 1 in {_ms(db['latency_ms'])}", icon=":material/check_circle:")
            if not db["at_head"]:
                st.warning(f"Schema at {db['revision']}, code expects {db['head']}: run `python -m core migrate`.")
            else:
                st.caption(f"Schema revision {db['revision']}")
        else:
            st.error(f"Down: {db['error']}", icon=":material/error:")
with right:
    storage = status["storage"]
    with st.container(border=True):
        st.markdown(f"**File storage** · {storage['backend']}")
        if storage["ok"]:
            st.success(f"Healthy · write/read/delete in {_ms(storage['latency_ms'])}",
                       icon=":material/check_circle:")
        else:
            st.error(f"Down: {storage['error']}", icon=":material/error:")
        st.caption(storage["where"])

st.subheader("Contents")
counts = status["counts"]
if "error" in counts:
    st.error(f"Counts unavailable: {counts['error']}")
else:
    cols = st.columns(5)
    for col, (label, key) in zip(cols, [("Users", "users"), ("Classes", "classes"), ("Documents", "documents"),
                                        ("Chunks", "chunks"), ("Failed uploads", "ingest_failures")]):
        col.metric(label, f"{counts[key]:,}")

queries = status["queries"]
st.subheader(f"Questions, last {queries.get('hours', 24)} h")
if "error" in queries:
    st.error(f"Latency unavailable: {queries['error']}")
else:
    cols = st.columns(4)
    cols[0].metric("Questions", f"{queries['queries']:,}")
    cols[1].metric("p50", _ms(queries["p50_ms"]))
    cols[2].metric("p95", _ms(queries["p95_ms"]))
    cols[3].metric("p99", _ms(queries["p99_ms"]))

jobs = status["jobs"]
st.subheader("Ingest jobs")
if "error" in jobs:
    st.error(f"Jobs unavailable: {jobs['error']}")
else:  # docs/jobs.md: a thread of the app on SQLite, worker processes on PostgreSQL's queue
    cols = st.columns(4)
    cols[0].metric("Queued", jobs["queued"])
    cols[1].metric("Working", jobs["working"])
    cols[2].metric("Oldest waiting", f"{jobs['oldest_queued_s']:.0f} s")
    cols[3].metric("Workers alive", "in the app" if jobs["workers"] is None else jobs["workers"])
    if jobs["workers"] == 0 and jobs["queued"]:
        st.warning("Files are waiting and no worker is running: start `python -m core worker`.",
                   icon=":material/warning:")

failures = status["ingest_failures"]
st.subheader(f"Failed uploads, last {failures.get('hours', 24)} h")
if "error" in failures:
    st.error(f"Failures unavailable: {failures['error']}")
elif not failures["count"]:
    st.caption("None.")
else:
    if failures["count"] > len(failures["recent"]):
        st.caption(f"{failures['count']} in total; the {len(failures['recent'])} most recent:")
    st.dataframe(failures["recent"], hide_index=True, width="stretch",
                 column_order=["at", "class", "filename", "error", "user"])

embedding = status["embedding"]
if "error" in embedding:
    st.error(f"Embedding path unavailable: {embedding['error']}")
else:  # bf16 or fp32, and why: each worker decides for its own CPU (docs/embedding.md)
    loaded = "loaded" if embedding["model_loaded"] else "loads on first use"
    st.caption(f"Embedding: {embedding['embedder']} · {embedding['precision']} · model {loaded}")
st.caption(f"Checked {status['checked_at']} on {status['host']} · APP_ENV={status['app_env']}")
