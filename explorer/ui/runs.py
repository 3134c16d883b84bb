"""The train page's views of the server's runs: one run (live curves, snapshots, Cancel) and the list.

Runs are worker processes whose folders under runs/ are their record (training.jobs); any server
process and any tab reads them. The URL names the run shown (`?run=<id>`), so a reload, a second
tab, another server process or a pasted link shows the same run, live, with a Cancel that works.
"""

from __future__ import annotations

import streamlit as st

from explorer import analyses, figures
from explorer.ui.bridge import plotly_chart
from explorer.ui.context import LABELS
from explorer.ui.lang import error_text, t
from explorer.ui.text import plain
from explorer.ui.train_page import run_status
from training import jobs
from training.store import find_sets

TRAIN_PAGE = "explorer/ui/pages/train.py"
LISTED = 25  # runs per page of the list, newest first; every saved one is also in the sidebar


def status(job: jobs.Job) -> str:
    """The run's status line in the reader's language, Markdown-safe (a failed run's keyed error translated)."""
    return plain(run_status(job, t=t, explain=lambda exc: error_text(exc, safe=False)))


def run_link(job: jobs.Job, label: str | None = None) -> None:
    st.page_link(TRAIN_PAGE, label=label or job.run_id, query_params={"run": job.run_id}, icon=":material/monitoring:")


def shown_run() -> str | None:
    """The run this tab shows: the URL's, else the one this session started last (put into the URL)."""
    run_id = st.query_params.get("run") or st.session_state.get("train_job")
    if run_id and st.query_params.get("run") != run_id:
        st.query_params["run"] = run_id
    return run_id


def _cancel(job: jobs.Job, key: str) -> None:
    if job.cancelling:
        st.caption(":material/hourglass_top: " + t("run_cancelling"))
    else:
        st.button(
            t("run_cancel"), key=key, on_click=jobs.cancel, args=(job.run_id, job.out.parent), icon=":material/cancel:"
        )


def run_panel(run_id: str) -> None:
    """One run, polled while it is queued or trains (the page wraps this in a fragment)."""
    job = jobs.get_run(run_id)
    if job is None:
        st.info(t("run_missing", run=plain(run_id)))
        return
    st.markdown(f"**{plain(job.run_id)}**: {status(job)}")
    st.progress(job.fraction)
    if job.active:
        _cancel(job, "train_cancel")
        st.caption(t("run_limit", minutes=jobs.MAX_RUN_SECONDS // 60))
    plotly_chart(figures.training_curves(job.history, t=t), key="train_curves")
    panels = analyses.snapshot_panels(job.snapshots, LABELS, t=t)
    if panels:
        kind, values, names = job.snapshot_colour
        colouring = figures.Colouring(values, kind, t("fig_phase") if kind == "factor" else t("fig_label"), names)
        plotly_chart(figures.latent_maps(panels, colouring, height=320, t=t), key="train_snapshots")
    elif job.saved:
        st.caption(t("run_no_snapshots"))
    _finished(job)


def _finished(job: jobs.Job) -> None:
    if job.status == "finished" and job.config.model.condition != "none":
        st.success(t("run_open_conditional"))
    elif job.status == "finished":
        pair_id = f"runs/{job.run_id}"
        if pair_id in find_sets("pair") and st.button(t("run_explore"), key="train_explore"):
            st.session_state["dataset"] = job.config.data.name
            st.session_state["pair"] = pair_id
            st.switch_page("explorer/ui/pages/latent_map.py")
    if not job.active and st.session_state.get("train_watching") == job.run_id:
        del st.session_state["train_watching"]
        st.rerun(scope="app")  # it ended while watched: the sidebar lists the new pair, polling stops


def run_list() -> None:
    """The server's runs, newest first, a page at a time (active ones always first) and searchable by
    name: each a link to its view, its status, Cancel while active. Read from the runs index."""
    runs = jobs.list_runs()
    if not runs:
        st.caption(t("run_none"))
        return
    wanted = st.text_input(t("run_find"), key="runs_find", max_chars=60).strip().lower()
    found = [job for job in runs if wanted in job.run_id.lower()] if wanted else runs
    if not found:
        st.caption(t("run_none_match", text=plain(wanted)))
        return
    pages = (len(found) + LISTED - 1) // LISTED
    page = 1
    if pages > 1:
        if st.session_state.get("runs_page", 1) > pages:  # the list shrank (a search, removed runs)
            st.session_state["runs_page"] = pages
        page = int(st.number_input(t("run_page"), 1, pages, 1, key="runs_page"))
    shown = found[(page - 1) * LISTED : page * LISTED]
    for job in shown:
        c = st.columns([4, 5, 2], vertical_alignment="center")
        with c[0]:
            run_link(job)
        c[1].caption(status(job))
        if job.active:
            with c[2]:
                _cancel(job, f"cancel_{job.run_id}")
    if pages > 1 or wanted:
        st.caption(t("run_count", shown=len(shown), total=len(found)))
