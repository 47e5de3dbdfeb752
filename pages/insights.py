"""A class's insights for its instructors: what students asked, what the material did not answer,
which answers did not help, the pages cited most, and a CSV of every question."""
from __future__ import annotations

import streamlit as st

from ui import insights as sections
from ui.state import get_services, require_actor
from ui.widgets import class_or_stop

WINDOWS = {7: "Last 7 days", 30: "Last 30 days", 90: "Last 90 days", 365: "Last year"}

actor = require_actor()
insights = get_services().insights

st.title("Insights")
klass = class_or_stop(actor, managers_only="Insights are for a class's instructors: which questions the material "
                                           "could not answer and which answers did not help.")

days = st.selectbox("Window", list(WINDOWS), index=1, format_func=WINDOWS.get, key="insights_days")
overview = insights.overview(actor, klass.id, days)
sections.metrics(overview)
sections.per_day_chart(overview)
sections.question_groups(insights, actor, klass.id, insights.question_groups(actor, klass.id, days))
sections.unhelpful(insights.unhelpful(actor, klass.id, days))
sections.most_cited(insights.most_cited(actor, klass.id, days))

st.download_button("Download questions (CSV)", data=insights.export_csv(actor, klass.id, days),
                   file_name=f"insights-class-{klass.id}-{days}d.csv", mime="text/csv", icon=":material/download:",
                   help="One row per question: date, question, answered / weak / not covered, sources, "
                        "the student's vote. No names or emails.")
