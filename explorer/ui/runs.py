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
from explorer.ui.lang import error_text, show_originals, t
from explorer.ui.text import plain
from explorer.ui.train_page import run_status
from training import jobs
from training.errors import LatentExplorerError
from training.store import RUN_PREFIX, find_sets, run_index

TRAIN_PAGE = "explorer/ui/pages/train.py"
LISTED = 10  # ended runs per page of the list, newest first; every saved one is also in the sidebar


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


CHARTS_EVERY = 10.0  # seconds between redraws of a live run's charts (its status line: every 2 s)


def run_panel(run_id: str, live: bool) -> None:
    """One run: its status (polled every 2 s while it is queued or trains) and its curves and code
    snapshots (every CHARTS_EVERY s: building the figures is most of a poll's server CPU)."""
    st.fragment(run_state, run_every=2.0 if live else None)(run_id)
    st.fragment(run_charts, run_every=CHARTS_EVERY if live else None)(run_id)


def run_state(run_id: str) -> None:
    job = jobs.get_run(run_id)
    if job is None:
        st.info(t("run_missing", run=plain(run_id)))
        return
    st.markdown(f"**{plain(job.run_id)}**: {status(job)}")
    st.progress(job.fraction)
    if job.active:
        _cancel(job, "train_cancel")
        st.caption(t("run_limit", minutes=jobs.MAX_RUN_SECONDS // 60))
    _finished(job)


def run_charts(run_id: str) -> None:
    job = jobs.get_run(run_id)
    if job is None:
        return
    plotly_chart(figures.training_curves(job.history, t=t), key="train_curves")
    panels = analyses.snapshot_panels(job.snapshots, LABELS, t=t)
    if panels:
        kind, values, names = job.snapshot_colour
        colouring = figures.Colouring(values, kind, t("fig_phase") if kind == "factor" else t("fig_label"), names)
        plotly_chart(figures.latent_maps(panels, colouring, height=320, t=t), key="train_snapshots")
    elif job.saved:
        st.caption(t("run_no_snapshots"))


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
    """The server's runs (from the runs index): the active ones in a fragment polled every 2 s while
    any is active, the ended ones in one that is not (a poll then costs the same with 3 or 3,000 saved
    runs); both rerun alone when their own widgets change."""
    busy = bool(active_runs())
    st.fragment(active_list, run_every=2.0 if busy else None)()
    indexing = run_index().pending > 0  # a first build goes on in the background: show it grow
    st.fragment(ended_list, run_every=2.0 if indexing else None)()


def active_runs() -> list[jobs.Job]:
    """Queued and running runs, newest first."""
    return _split()[0]


def _split() -> tuple[list[jobs.Job], list[jobs.Job]]:
    """(active, ended) runs: list_runs puts the active ones first, so no look at every ended one."""
    runs = jobs.list_runs()
    n = next((i for i, job in enumerate(runs) if not job.active), len(runs))
    return runs[:n], runs[n:]


def _row(job: jobs.Job, action) -> None:
    """One run of the list: its link, its status, and action(job) (Cancel or Remove)."""
    c = st.columns([9, 2], vertical_alignment="center")  # the name over its status: at 800 px a name beside
    with c[0]:  # its status was cut to "moons-sparse-2d-20261"
        run_link(job)
        st.caption(status(job))
        if job.status == "failed":
            show_originals(getattr(job, "error", None))
    with c[1]:
        action(job)


def active_list() -> None:
    """Queued and running runs: each a link to its view, its status, Cancel. When one ended or started
    since this tab last drew them, the whole page reruns once: the ended list and the polling follow."""
    active = active_runs()
    names = [job.run_id for job in active]
    drawn = st.session_state.get("runs_active_drawn")
    st.session_state["runs_active_drawn"] = names
    if drawn is not None and set(drawn) - set(names):
        st.rerun(scope="app")
    for job in active:
        _row(job, lambda job: _cancel(job, f"cancel_{job.run_id}"))


def ended_list() -> None:
    """Ended runs, newest first, a page at a time and searchable by name: each a link to its view, its
    status, and Remove (asked twice: the second click removes its folder)."""
    active, ended = _split()
    pending = run_index().pending
    if pending:
        st.caption(":material/hourglass_top: " + t("run_indexing", n=pending))
    if not ended:
        if not active:
            st.caption(t("run_none"))
        return
    wanted = st.text_input(t("run_find"), key="runs_find", max_chars=60).strip().lower()
    found = [job for job in ended if wanted in job.run_id.lower()] if wanted else ended
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
        _row(job, _remove)
    if pages > 1 or wanted:
        st.caption(t("run_count", shown=len(shown), total=len(found)))
    _removal_result()


def _remove(job: jobs.Job) -> None:
    """Remove, then (this run only) Remove for good / Keep: the folder goes on the second click. No icons:
    in the row's narrow column at 800 px an icon broke "Remove" mid-word."""
    if st.session_state.get("runs_remove") == job.run_id:
        st.button(
            t("run_remove_confirm"),
            key=f"remove_yes_{job.run_id}",
            on_click=_removed,
            args=(job.run_id,),
            type="primary",
            help=t("run_remove_help", run=plain(job.run_id)),
        )
        st.button(t("run_remove_keep"), key=f"remove_no_{job.run_id}", on_click=_keep)
    else:
        st.button(
            t("run_remove"),
            key=f"remove_{job.run_id}",
            on_click=_ask_remove,
            args=(job.run_id,),
        )


def _ask_remove(run_id: str) -> None:
    st.session_state["runs_remove"] = run_id
    st.session_state.pop("runs_removed", None)


def _keep() -> None:
    st.session_state.pop("runs_remove", None)


def _removed(run_id: str) -> None:
    st.session_state.pop("runs_remove", None)
    try:
        jobs.remove_run(run_id)
    except LatentExplorerError as exc:
        st.session_state["runs_removed"] = ("error", error_text(exc))
        return
    st.session_state["runs_removed"] = ("ok", t("run_removed", run=plain(run_id)))
    if st.query_params.get("run") == run_id:  # this tab showed it: nothing left to show
        del st.query_params["run"]
        st.session_state.pop("train_job", None)
    if st.session_state.get("pair") == RUN_PREFIX + run_id:  # nor to explore
        st.session_state.pop("pair", None)


def _removal_result() -> None:
    outcome = st.session_state.pop("runs_removed", None)
    if outcome is not None:
        kind, text = outcome
        (st.success if kind == "ok" else st.error)(text, icon=":material/delete:" if kind == "ok" else None)
