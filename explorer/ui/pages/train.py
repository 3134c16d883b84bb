"""Train: a pair from your choices, watched live by any tab (?run=<id>); the server's runs; your own
data and checkpoints; KL and beta."""

import numpy as np
import streamlit as st

from explorer import analyses, figures
from explorer.ui import runs
from explorer.ui.bridge import plotly_chart
from explorer.ui.context import collapse_warning, current_view
from explorer.ui.text import plain
from explorer.ui.train_page import checkpoint_import, dataset_upload, train_form
from training import jobs, uploads
from training.errors import LatentExplorerError
from training.metrics import ACTIVE_UNIT_THRESHOLD
from training.runs import PRIOR_SAMPLES
from training.store import find_sets, runs_dir, uploads_dir

view = current_view()
st.title("Train")
st.caption(f":material/memory: {jobs.device_line()}")

# --- train a pair, watch it, list the server's runs -------------------------------------------
user_data = uploads.list_uploads(uploads_dir())
form = train_form(user_data)
if form is not None:
    try:
        job = jobs.start_job(analyses.train_config(form, uploads_dir()), runs_dir(), name=form["name"])
        st.session_state["train_job"] = st.query_params["run"] = job.run_id
    except jobs.RunsBusy as exc:
        st.error(f"Cannot train: {plain(exc)}")
        runs.busy_links(exc.running)
    except LatentExplorerError as exc:
        st.error(f"Cannot train: {plain(exc)}")

run_id = runs.shown_run()
if run_id:
    job = jobs.get_run(run_id)
    live = job is not None and job.active
    if live:
        st.session_state["train_watching"] = run_id
    st.fragment(runs.run_panel, run_every=2.0 if live else None)(run_id)
else:
    st.caption("No run shown: train one above, or open one from the list below.")

st.subheader("Runs on this server")
busy = any(job.active for job in jobs.list_runs())
st.fragment(runs.run_list, run_every=2.0 if busy else None)()

# --- your own data and checkpoints -------------------------------------------------------------
dataset_upload(user_data)
checkpoint_import()

# --- posterior collapse and beta -----------------------------------------------------------------
st.subheader("The VAE's latent dimensions")
metrics = view.pair["vae"].metrics
kl = np.array(metrics.get("kl_per_dim", []))
if kl.size:
    plotly_chart(figures.kl_bars(kl), key="kl_bars")
    st.caption(
        f"{view.pair_id}: KL per dimension on the test split (nats); {metrics.get('active_units')} of "
        f"{metrics.get('latent_dim')} dimensions are active (their posterior mean varies with the input, "
        f"variance > {ACTIVE_UNIT_THRESHOLD}).",
        help=analyses.METRIC_HELP["kl"],
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
    plotly_chart(figures.beta_tradeoff(points, PRIOR_SAMPLES), key="beta_tradeoff")
    st.caption(
        f"Your runs on {plain(view.dataset.name)} under runs/, one point per VAE.", help=analyses.METRIC_HELP["beta"]
    )
