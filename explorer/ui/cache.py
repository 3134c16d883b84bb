"""Every st.cache_* of the app lives here, keyed by hashable ids (path, mtime, options).

Models, datasets, codes and projections go through cache_resource: the objects are shared,
not copied (st.cache_data would unpickle a fresh copy of large arrays on every rerun).
Callers must treat what they get as read-only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from explorer import latents
from explorer.projection import Projection, make_projection
from training.checkpoint import Pair, load_pair
from training.datasets import Dataset, load_dataset


def pair_stamp(path: str) -> float:
    """Changes whenever a pair's sidecars are rewritten, so the caches below reload it."""
    p = Path(path)
    return max((p / f"{kind}.json").stat().st_mtime for kind in ("ae", "vae"))


@st.cache_resource(max_entries=16, show_spinner="Loading the model pair…")
def pair(path: str, stamp: float) -> Pair:
    return load_pair(path)


@st.cache_resource(max_entries=8, show_spinner="Preparing the dataset…")
def dataset(path: str, stamp: float) -> Dataset:
    return load_dataset(pair(path, stamp).vae.config.data)


@st.cache_resource(max_entries=32, show_spinner="Encoding the test split…")
def codes(path: str, stamp: float, kind: str, split: str = "test") -> latents.Codes:
    data = getattr(dataset(path, stamp), split)
    return latents.encode(pair(path, stamp)[kind].model, data.x)


@st.cache_resource(max_entries=32, show_spinner="Fitting the projection…")
def projection(path: str, stamp: float, kind: str, method: str, params: tuple) -> Projection:
    model_codes = codes(path, stamp, kind)
    return make_projection(method, model_codes.mean.shape[1], **dict(params)).fit(model_codes.mean)


@st.cache_resource(max_entries=8)
def flat_train_images(path: str, stamp: float) -> np.ndarray:
    """(N, P) float32 training images, the bank for nearest-image look-ups."""
    x = dataset(path, stamp).train.x
    return x.reshape(len(x), -1).numpy()
