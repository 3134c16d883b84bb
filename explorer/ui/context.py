"""The shared sidebar (dataset + pair) and what every page needs of the chosen pair."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st

from explorer import latents
from explorer.figures import Colouring
from explorer.projection import Projection
from explorer.ui import cache
from training.checkpoint import Pair, find_pairs
from training.datasets import Dataset
from training.errors import LatentExplorerError
from training.limits import check_path_text

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "checkpoints"
KINDS = ("ae", "vae")
LABELS = {"ae": "AE", "vae": "VAE"}


def runs_dir() -> Path:
    """Where trained pairs are kept: runs/ in the project, or $LATENT_EXPLORER_RUNS."""
    return Path(os.environ.get("LATENT_EXPLORER_RUNS", ROOT / "runs"))


def uploads_dir() -> Path:
    """Where uploaded datasets are kept: uploads/ in the project, or $LATENT_EXPLORER_UPLOADS."""
    return Path(os.environ.get("LATENT_EXPLORER_UPLOADS", ROOT / "uploads"))


def import_roots() -> list[Path]:
    """Folders a pair may be loaded from by path: the project, or $LATENT_EXPLORER_IMPORT_ROOTS
    (separated by ':'). A stranger on a shared server cannot make the app read anywhere else."""
    env = os.environ.get("LATENT_EXPLORER_IMPORT_ROOTS")
    roots = [Path(p) for p in env.split(os.pathsep) if p] if env else [ROOT]
    return [r.resolve() for r in roots]


def allowed_import_path(text: str) -> Path:
    check_path_text(text, "the folder")
    path = Path(text).expanduser().resolve()  # symlinks and .. resolved before the check
    if not any(path == root or root in path.parents for root in import_roots()):
        raise LatentExplorerError(
            f"loading by path is limited to {', '.join(str(r) for r in import_roots())} "
            "(set LATENT_EXPLORER_IMPORT_ROOTS to allow more), or upload the four files"
        )
    return path


RUN_PREFIX = "runs/"


def pair_path(pair_id: str) -> Path:
    """A bundled pair's id is its folder name; a trained one's is runs/<folder>."""
    if pair_id.startswith(RUN_PREFIX):
        return runs_dir() / pair_id[len(RUN_PREFIX) :]
    return BUNDLED / pair_id


def pair_choices() -> dict[str, Path]:
    """Pair id -> folder, bundled pairs first, then those under runs/. Ids are what the URL carries."""
    choices = {d.relative_to(BUNDLED).as_posix(): d for d in find_pairs(BUNDLED)}
    runs = runs_dir()
    choices.update({RUN_PREFIX + d.relative_to(runs).as_posix(): d for d in find_pairs(runs)})
    return choices


def conditional_choices() -> dict[str, Path]:
    """Conditional sets (cvae + regression) by id: bundled folder names, then runs/<folder>."""
    found = {}
    for root, prefix in ((BUNDLED, ""), (runs_dir(), RUN_PREFIX)):
        if root.is_dir():
            for sidecar in sorted(root.rglob("cvae.json")):
                if (sidecar.parent / "regression.json").is_file():
                    found[prefix + sidecar.parent.relative_to(root).as_posix()] = sidecar.parent
    return found


def dataset_of(pair_id: str) -> str:
    try:
        return json.loads((pair_path(pair_id) / "vae.json").read_text())["data"]["name"]
    except (OSError, ValueError, KeyError, TypeError):
        return "unknown"


@dataclass
class View:
    """The chosen pair with its data and test-split codes (all cached, read-only)."""

    pair_id: str
    path: str
    stamp: float
    pair: Pair
    dataset: Dataset
    codes: dict[str, latents.Codes]

    @property
    def latent_dim(self) -> int:
        return self.pair.vae.config.model.latent_dim

    def model(self, kind: str):
        return self.pair[kind].model

    def colouring(self) -> Colouring:
        test = self.dataset.test
        if test.y is not None:
            return Colouring(test.y.numpy(), "label", "label", self.dataset.class_names)
        if "phase" in test.factors:
            return Colouring(test.factors["phase"], "factor", "phase")
        return Colouring(None, "none")

    def describe_item(self, index: int) -> str:
        test = self.dataset.test
        if test.y is not None:
            names = self.dataset.class_names
            label = int(test.y[index])
            return f"label {names[label] if names else label}"
        if "phase" in test.factors:
            return f"phase {test.factors['phase'][index]:.3f}"
        return f"item {index}"

    def projection(self, kind: str) -> Projection:
        method, params = projection_choice()
        return cache.projection(self.path, self.stamp, kind, method, params)

    def train_bank(self) -> np.ndarray:
        return cache.flat_train_images(self.path, self.stamp)

    def train_codes(self, kind: str) -> latents.Codes:
        return cache.codes(self.path, self.stamp, kind, "train")


def projection_choice() -> tuple[str, tuple]:
    """(method, sorted params) chosen on the latent map page; PCA until the user runs another."""
    return st.session_state.get("projection_applied", ("pca", ()))


def describe_training(pair: Pair) -> str:
    c = pair.vae.config
    arch = f"{c.model.family.upper()} {'-'.join(map(str, c.model.hidden))}"
    data = c.data.name + (f" ({c.data.regime})" if c.data.name == "moons" else "")
    beta = f", β={c.model.beta:g}" if c.model.beta != 1 else ""
    return (
        f"{data}, {pair.vae.data_stats.get('n_train', '?')} training images; {arch}, latent {c.model.latent_dim}{beta}; "
        f"{c.train.epochs} epochs, lr {c.train.lr:g}, seed {c.train.seed}"
    )


def sidebar() -> None:
    """Dataset and pair choosers plus the pair's key metrics; state lives in the URL."""
    choices = pair_choices()
    with st.sidebar:
        if not choices:
            st.error("No model pairs found. Run `make defaults` to rebuild the bundled pairs in checkpoints/.")
            st.stop()
        datasets = sorted({dataset_of(p) for p in choices})
        default_dataset = "moons" if "moons" in datasets else datasets[0]
        dataset_name = st.selectbox(
            "Dataset", datasets, index=datasets.index(default_dataset), key="dataset", bind="query-params"
        )
        options = [p for p in choices if dataset_of(p) == dataset_name]
        preferred = next((p for p in options if p.endswith("moons-sparse-2d")), options[0])
        if st.session_state.get("pair") not in options:
            st.session_state.pop("pair", None)
        st.selectbox("Model pair", options, index=options.index(preferred), key="pair", bind="query-params")
        view = current_view()
        st.caption(describe_training(view.pair))
        rows = []
        for kind in KINDS:
            m = view.pair[kind].metrics
            rows.append(
                {
                    "": LABELS[kind],
                    "BCE": round(m.get("recon_bce", float("nan")), 1),
                    "ELBO": round(m["elbo"], 1) if "elbo" in m else None,
                    "active": f"{m.get('active_units', '?')}/{m.get('latent_dim', view.latent_dim)}",
                }
            )
        st.dataframe(rows, hide_index=True, width="stretch")
        collapse = collapse_warning(view.pair.vae.metrics, view.pair.vae.config.model.beta)
        if collapse:
            st.warning(collapse)
        st.caption(
            "Test split: BCE = summed reconstruction BCE per image, ELBO in nats, active = latent units in use. "
            "`python -m training eval` recomputes them."
        )


def collapse_warning(metrics: dict, beta: float) -> str | None:
    """A warning when the VAE uses few of its latent dimensions (posterior collapse)."""
    active, total = metrics.get("active_units"), metrics.get("latent_dim")
    if active is None or not total:
        return None
    advice = f"try a lower β (now {beta:g}), a KL warm-up (--kl-warmup), or a smaller latent size"
    if active == 0:
        return f"The VAE's posterior has collapsed: no latent dimension carries information. To fix it, {advice}."
    if total > 2 and active <= total // 2:
        return (
            f"The VAE uses only {active} of its {total} latent dimensions (the rest collapsed to the prior); {advice}."
        )
    return None


def current_view() -> View:
    """The pair chosen in the sidebar, loaded through the caches; errors stop the page with st.error."""
    pair_id = st.session_state.get("pair")
    choices = pair_choices()
    if pair_id not in choices:
        pair_id = next(iter(choices))
    path = str(choices[pair_id])
    try:
        stamp = cache.pair_stamp(path)
        pair = cache.pair(path, stamp)
        data = cache.dataset(path, stamp)
        codes = {kind: cache.codes(path, stamp, kind) for kind in KINDS}
    except (LatentExplorerError, OSError) as exc:
        st.error(f"Could not open the pair {pair_id}: {exc}")
        st.stop()
    return View(pair_id, path, stamp, pair, data, codes)
