"""The train page's views of the server's runs: one run (live curves, snapshots, Cancel) and the list.

Runs belong to the server (training.jobs); the URL names the one shown (`?run=<id>`), so a reload,
a second tab or a pasted link shows the same run, live, with a Cancel that works.
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
LISTED = 25  # runs shown in the list, newest first; every saved one is also in the sidebar


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
    if job.cancel_event.is_set():
        st.caption(":material/hourglass_top: " + t("run_cancelling"))
    else:
        st.button(t("run_cancel"), key=key, on_click=job.cancel, icon=":material/cancel:")


def run_panel(run_id: str) -> None:
    """One run, polled while it trains (the page wraps this in a fragment)."""
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
    """Every run on the server, newest first: a link to its view, its status, Cancel while active."""
    runs = jobs.list_runs()
    if not runs:
        st.caption(t("run_none"))
        return
    for job in runs[:LISTED]:
        c = st.columns([4, 5, 2], vertical_alignment="center")
        with c[0]:
            run_link(job)
        c[1].caption(status(job))
        if job.active:
            with c[2]:
                _cancel(job, f"cancel_{job.run_id}")
    if len(runs) > LISTED:
        st.caption(t("run_older", n=len(runs) - LISTED))


def busy_links(running: list[jobs.Job]) -> None:
    """The runs holding the server's slots, each a link to its page."""
    for job in running:
        run_link(job, f"{job.run_id}: {run_status(job, t=t)}")
