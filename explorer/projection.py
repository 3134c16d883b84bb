"""Codes (N, D) -> points on a plane (N, 2), behind one fit/transform interface.

A fitted projection is kept and reused: anything drawn later on the same map (a path, a
slider's point) goes through transform(), so it lands where the codes are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from sklearn.neighbors import NearestNeighbors


class Projection:
    """fit(codes) stores the embedding; transform(z) maps new codes (fitted ones exactly)."""

    name = "projection"

    def __init__(self, **params: Any):
        self.params = params
        self.codes: np.ndarray | None = None
        self.embedding: np.ndarray | None = None
        self._index: NearestNeighbors | None = None

    def fit(self, codes: np.ndarray) -> "Projection":
        self.codes = np.asarray(codes, dtype=np.float32)
        self.embedding = np.asarray(self._fit(self.codes), dtype=np.float32)
        self._index = NearestNeighbors(n_neighbors=1).fit(self.codes)
        return self

    def transform(self, z: np.ndarray) -> np.ndarray:
        if self.embedding is None:
            raise RuntimeError("fit the projection before transforming")
        z = np.atleast_2d(np.asarray(z, dtype=np.float32))
        out = np.asarray(self._transform(z), dtype=np.float32)
        # A fitted code maps to its own embedding, whatever the method's out-of-sample rule.
        dist, idx = self._index.kneighbors(z)
        seen = dist[:, 0] == 0
        out[seen] = self.embedding[idx[seen, 0]]
        return out

    def _fit(self, codes: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _transform(self, z: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class Identity(Projection):
    name = "identity"

    def _fit(self, codes):
        if codes.shape[1] != 2:
            raise ValueError("the identity projection is for 2-D codes")
        return codes

    def _transform(self, z):
        return z


class PCA(Projection):
    name = "pca"

    def _fit(self, codes):
        from sklearn.decomposition import PCA as SkPCA

        self._model = SkPCA(n_components=2, random_state=0).fit(codes)
        return self._model.transform(codes)

    def _transform(self, z):
        return self._model.transform(z)


class UMAP(Projection):
    name = "umap"

    def _fit(self, codes):
        import umap  # numba compiles on first use: imported only when asked for

        self._model = umap.UMAP(
            n_neighbors=int(self.params.get("n_neighbors", 15)),
            min_dist=float(self.params.get("min_dist", 0.1)),
            random_state=int(self.params.get("seed", 0)),
            n_jobs=1,
        )
        return self._model.fit_transform(codes)

    def _transform(self, z):
        return self._model.transform(z)


class TSNE(Projection):
    """t-SNE has no out-of-sample map; new codes go where their nearest fitted codes went
    (inverse-distance weighted average of k = 5 neighbours)."""

    name = "tsne"

    def _fit(self, codes):
        from sklearn.manifold import TSNE as SkTSNE

        perplexity = min(float(self.params.get("perplexity", 30)), max(1.0, (len(codes) - 1) / 3))
        return SkTSNE(
            n_components=2, perplexity=perplexity, random_state=int(self.params.get("seed", 0)), init="pca"
        ).fit_transform(codes)

    def _transform(self, z):
        k = min(5, len(self.codes))
        dist, idx = NearestNeighbors(n_neighbors=k).fit(self.codes).kneighbors(z)
        w = 1.0 / (dist + 1e-9)
        return (self.embedding[idx] * w[..., None]).sum(1) / w.sum(1, keepdims=True)


@dataclass(frozen=True)
class Param:
    label: str
    default: float
    low: float
    high: float
    step: float


@dataclass(frozen=True)
class ProjectionSpec:
    make: Callable[..., Projection]
    label: str
    params: dict[str, Param] = field(default_factory=dict)


PROJECTIONS: dict[str, ProjectionSpec] = {
    "pca": ProjectionSpec(PCA, "PCA"),
    "umap": ProjectionSpec(
        UMAP, "UMAP",
        {"n_neighbors": Param("neighbours", 15, 2, 100, 1), "min_dist": Param("min distance", 0.1, 0.0, 0.99, 0.01)},
    ),
    "tsne": ProjectionSpec(TSNE, "t-SNE", {"perplexity": Param("perplexity", 30, 2, 100, 1)}),
}


def make_projection(method: str, latent_dim: int, **params: Any) -> Projection:
    """Identity for 2-D codes, else the named method."""
    if latent_dim == 2:
        return Identity()
    if method not in PROJECTIONS:
        raise ValueError(f"unknown projection {method!r}; choose one of {', '.join(PROJECTIONS)}")
    return PROJECTIONS[method].make(**params)
