"""Every st.cache_* of the app lives here, keyed by hashable ids (path, mtime, options).

Models, datasets, codes and projections go through cache_resource: the objects are shared,
not copied (st.cache_data would unpickle a fresh copy of large arrays on every rerun).
Callers must treat what they get as read-only.
"""

from __future__ import annotations

import functools

import numpy as np
import streamlit as st

from explorer import figures, images, latents
from explorer.projection import Projection, make_projection
from explorer.ui.lang import t
from training.bank import Bank, bank_for
from training.datasets import Dataset
from training.store import ModelSet, dataset_for, load_set


def cached(spinner: str, **options):
    """st.cache_resource(**options) whose spinner says catalogue key `spinner` in the reader's language.
    Streamlit fixes show_spinner's text once, when the function is decorated (it was both languages at once);
    this spinner is drawn at call time instead, after st.spinner's half-second delay, so a cache hit shows
    nothing, as before."""

    def wrap(fn):
        inner = st.cache_resource(show_spinner=False, **options)(fn)
        # Arguments this process has computed once: their calls are hits and skip the spinner, whose timer
        # thread and clearing message cost a hit more than the hit itself (a slider move calls one).
        # An entry evicted since is recomputed without a spinner.
        hits: set = set()

        @functools.wraps(fn)
        def call(*args, **kwargs):
            try:
                key = (args, tuple(sorted(kwargs.items())))
                known = key in hits
            except TypeError:  # an unhashable argument: always the spinner
                key, known = None, False
            if known:
                return inner(*args, **kwargs)
            with st.spinner(t(spinner)):
                value = inner(*args, **kwargs)
            if key is not None and len(hits) < 4096:
                hits.add(key)
            return value

        def clear():
            hits.clear()
            inner.clear()

        call.clear = clear
        return call

    return wrap


@cached("spin_loading_models", max_entries=16)
def model_set(path: str, stamp: float) -> ModelSet:
    """A pair or conditional set; stamp (SetInfo.stamp) changes when a sidecar is rewritten."""
    return load_set(path)


@cached("spin_preparing_dataset", max_entries=8)
def dataset(path: str, stamp: float) -> Dataset:
    return dataset_for(model_set(path, stamp).lead.config)  # allowed roots, no download, shape checked


@cached("spin_encoding_test_split", max_entries=32)
def codes(path: str, stamp: float, kind: str, split: str = "test") -> latents.Codes:
    return latents.split_codes(model_set(path, stamp)[kind].model, getattr(dataset(path, stamp), split))


@st.cache_resource(max_entries=16, show_spinner=False)
def latent_map_figure(path: str, stamp: float, options: tuple, _build):
    """The latent map page's figure, by pair and options (projection, ellipses): it holds no pick, so
    every rerun sends Streamlit the same figure and the browser keeps the one it drew."""
    return _build()


@cached("spin_fitting_projection", max_entries=32)
def projection(path: str, stamp: float, kind: str, method: str, params: tuple) -> Projection:
    model_codes = codes(path, stamp, kind)
    return make_projection(method, model_codes.mean.shape[1], **dict(params)).fit(model_codes.mean)


@st.cache_resource(max_entries=8)
def flat_train_images(path: str, stamp: float) -> np.ndarray:
    """(N, P) float32 training images, the bank for nearest-image look-ups."""
    x = dataset(path, stamp).train.x
    return x.reshape(len(x), -1).numpy()


@functools.lru_cache(maxsize=4096)
def train_image_uri(path: str, stamp: float, index: int, scale: int) -> str:
    """A training image enlarged scale times, as a PNG data URI (a few hundred bytes to a few kB): the nearest
    images a slider move shows repeat from move to move, so each is encoded once per process, and the browser
    fetches none of them. A plain lru_cache: st.cache_resource's key hashing costs more than the look-up."""
    image = dataset(path, stamp).train.x[index].numpy()
    return images.png_uri(images.upscale(images.to_uint8(image), scale))


@st.cache_resource(max_entries=32, show_spinner=False)
def point_map_json(path: str, stamp: float, kind: str, projection: tuple, _build) -> str:
    """The light point map's points, colours and bounds as one JSON object text (tens of kB), by pair, model
    and projection: built once, not on every slider move (bridge.component_data splices it in)."""
    return _build()


@cached("spin_rendering_reference_bank", max_entries=8)
def bank(path: str, stamp: float) -> Bank:
    """True moon renders for moons pairs; the training images (a proxy) for anything else."""
    return bank_for(dataset(path, stamp))


@st.cache_data(max_entries=16, show_spinner=False)
def class_map_png(path: str, stamp: float, kind: str, title: str) -> bytes:
    """The test split's codes coloured by class, for download."""
    data = dataset(path, stamp)
    return figures.class_map_png(codes(path, stamp, kind).mean, data.test.y.numpy(), data.class_names, title)


@st.cache_data(max_entries=4)
def lab_results(path: str, mtime: float) -> dict:
    """The half-moon lab's results.json (numbers over seeds), re-read when the file changes."""
    import json
    from pathlib import Path

    return json.loads(Path(path).read_text())


@st.cache_data(max_entries=4, show_spinner=False)
def sweep_results(path: str, stamp: float):
    """A beta sweep's results.json (training.sweep.read_results: validated) and its per-beta summaries,
    or None; stamp: the file's mtime."""
    from pathlib import Path

    from training.sweep import read_results, summaries

    results = read_results(Path(path))
    return None if results is None else (results, summaries(results))
