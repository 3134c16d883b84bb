"""Train: a pair from your choices, watched live; your own data and checkpoints; KL and beta."""

import numpy as np
import streamlit as st

from explorer import analyses, figures
from explorer.ui.context import LABELS, collapse_warning, current_view
from explorer.ui.text import plain
from explorer.ui.widgets import checkpoint_import, dataset_upload, train_form
from training import jobs, uploads
from training.errors import LatentExplorerError
from training.metrics import ACTIVE_UNIT_THRESHOLD
from training.runs import PRIOR_SAMPLES
from training.store import find_sets, runs_dir, uploads_dir

view = current_view()
st.title("Train")
st.caption(f":material/memory: {jobs.device_line()}")

# --- train a pair --------------------------------------------------------------------------------
user_data = uploads.list_uploads(uploads_dir())
form = train_form(user_data)
if form is not None:
    try:
        job = jobs.start_job(analyses.train_config(form, uploads_dir()), runs_dir())
        st.session_state["train_job"] = job.run_id
    except LatentExplorerError as exc:
        st.error(f"Cannot train: {plain(exc)}")


def job_panel() -> None:
    run_id = st.session_state.get("train_job")
    job = jobs.get_job(run_id) if run_id else None
    if job is None:
        st.caption("No run started in this session yet.")
        return
    st.markdown(f"**Run `{job.run_id}`**: {job.status}" + (f" — {plain(job.message)}" if job.message else ""))
    st.progress(job.fraction, text=f"{job.kind.upper()} epoch {job.epoch} of {job.config.train.epochs}")
    if job.active and st.button("Cancel", key="train_cancel"):
        job.cancel()
        st.info("Cancelling after the current batch…")
    st.plotly_chart(figures.training_curves(job.history), key="train_curves")
    panels = analyses.snapshot_panels(job.snapshots, LABELS)
    if panels:
        kind, values, names = job.snapshot_colour
        colouring = figures.Colouring(values, kind, "phase", names)
        st.plotly_chart(figures.latent_maps(panels, colouring, height=320), key="train_snapshots")
    if job.status == "done" and job.config.model.condition != "none":
        st.success("Open the Conditional VAE page and choose it there.")
    elif job.status == "done":
        pair_id = f"runs/{job.run_id}"
        if pair_id in find_sets("pair") and st.button("Explore this pair", key="train_explore"):
            st.session_state["dataset"] = job.config.data.name
            st.session_state["pair"] = pair_id
            st.switch_page("explorer/ui/pages/latent_map.py")
    if not job.active and st.session_state.get("train_seen_finish") != job.run_id:
        st.session_state["train_seen_finish"] = job.run_id
        st.rerun(scope="app")  # the sidebar lists the new pair at once


run_id = st.session_state.get("train_job")
live = run_id is not None and jobs.get_job(run_id) is not None and jobs.get_job(run_id).active
st.fragment(job_panel, run_every=1.0 if live else None)()

# --- your own data and checkpoints -------------------------------------------------------------
dataset_upload(user_data)
checkpoint_import()

# --- posterior collapse and beta -----------------------------------------------------------------
st.subheader("The VAE's latent dimensions")
metrics = view.pair["vae"].metrics
kl = np.array(metrics.get("kl_per_dim", []))
if kl.size:
    st.plotly_chart(figures.kl_bars(kl), key="kl_bars")
    st.caption(
        f"{view.pair_id}: KL per dimension on the test split (nats); {metrics.get('active_units')} of "
        f"{metrics.get('latent_dim')} dimensions are active (their posterior mean varies with the input, "
        f"variance > {ACTIVE_UNIT_THRESHOLD})."
    )
    warning = collapse_warning(metrics, view.pair["vae"].config.model.beta)
    if warning:
        st.warning(warning)

st.subheader("β: reconstruction against prior samples")
points = analyses.beta_points(find_sets("pair"), view.dataset.name)
if len(points) < 2:
    st.caption(
        f"Train VAEs on {view.dataset.name} with two or more β values (above) to see the trade-off: larger β buys "
        "prior samples that look like data at the price of blurrier reconstructions."
    )
else:
    st.plotly_chart(figures.beta_tradeoff(points, PRIOR_SAMPLES), key="beta_tradeoff")
    st.caption(f"Your runs on {plain(view.dataset.name)} under runs/, one point per VAE.")
