"""Every st.cache_* of the app lives here, keyed by hashable ids (path, mtime, options).

Models, datasets, codes and projections go through cache_resource: the objects are shared,
not copied (st.cache_data would unpickle a fresh copy of large arrays on every rerun).
Callers must treat what they get as read-only.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from explorer import figures, latents
from explorer.i18n import tr
from explorer.projection import Projection, make_projection
from training.bank import Bank, bank_for
from training.datasets import Dataset
from training.store import ModelSet, dataset_for, load_set


def spinner(key: str) -> str:
    """A cache spinner's text in both languages: Streamlit takes it once, when the function is decorated."""
    return f"{tr('en', key)} · {tr('zh', key)}"


@st.cache_resource(max_entries=16, show_spinner=spinner("spin_loading_models"))
def model_set(path: str, stamp: float) -> ModelSet:
    """A pair or conditional set; stamp (SetInfo.stamp) changes when a sidecar is rewritten."""
    return load_set(path)


@st.cache_resource(max_entries=8, show_spinner=spinner("spin_preparing_dataset"))
def dataset(path: str, stamp: float) -> Dataset:
    return dataset_for(model_set(path, stamp).lead.config)  # allowed roots, no download, shape checked


@st.cache_resource(max_entries=32, show_spinner=spinner("spin_encoding_test_split"))
def codes(path: str, stamp: float, kind: str, split: str = "test") -> latents.Codes:
    data = getattr(dataset(path, stamp), split)
    return latents.encode(model_set(path, stamp)[kind].model, data.x)


@st.cache_resource(max_entries=16, show_spinner=False)
def latent_map_figure(path: str, stamp: float, options: tuple, _build):
    """The latent map page's figure, by pair and options (projection, ellipses): it holds no pick, so
    every rerun sends Streamlit the same figure and the browser keeps the one it drew."""
    return _build()


@st.cache_resource(max_entries=32, show_spinner=spinner("spin_fitting_projection"))
def projection(path: str, stamp: float, kind: str, method: str, params: tuple) -> Projection:
    model_codes = codes(path, stamp, kind)
    return make_projection(method, model_codes.mean.shape[1], **dict(params)).fit(model_codes.mean)


@st.cache_resource(max_entries=8)
def flat_train_images(path: str, stamp: float) -> np.ndarray:
    """(N, P) float32 training images, the bank for nearest-image look-ups."""
    x = dataset(path, stamp).train.x
    return x.reshape(len(x), -1).numpy()


@st.cache_resource(max_entries=8, show_spinner=spinner("spin_rendering_reference_bank"))
def bank(path: str, stamp: float) -> Bank:
    """True moon renders for moons pairs; the training images (a proxy) for anything else."""
    return bank_for(dataset(path, stamp))


@st.cache_data(max_entries=16, show_spinner=False)
def class_map_png(path: str, stamp: float, kind: str, title: str) -> bytes:
    """The test split's codes coloured by class, for download."""
    data = dataset(path, stamp)
    return figures.class_map_png(codes(path, stamp, kind).mean, data.test.y.numpy(), data.class_names, title)


@st.cache_resource(max_entries=16, show_spinner=spinner("spin_scoring_likelihoods"))
def likelihoods(path: str, stamp: float, n: int, sigma: float):
    """explorer.likelihoods.Likelihoods: the pair's VAE's decodes of its first n test images under every p(x|z)."""
    from explorer.likelihoods import measure

    return measure(model_set(path, stamp)["vae"].model, dataset(path, stamp).test.x[:n], sigma)


@st.cache_data(max_entries=4)
def lab_results(path: str, mtime: float) -> dict:
    """The half-moon lab's results.json (numbers over seeds), re-read when the file changes."""
    import json
    from pathlib import Path

    return json.loads(Path(path).read_text())


@st.cache_resource(max_entries=32, show_spinner=spinner("spin_summing_mixture"))
def tour_mixture(path: str, stamp: float, index: int):
    """explorer.tour.Mixture: one test image's p(x) as a sum of decoder Gaussians over the pair's 2-D prior."""
    from explorer import tour

    return tour.mixture(model_set(path, stamp)["vae"].model, dataset(path, stamp).test.x[index : index + 1])
