"""Codes (N, D) -> points on a plane (N, 2), behind one fit/transform interface.

A fitted projection is kept and reused: anything drawn later on the same map (a path, a
slider's point) goes through transform(), so it lands where the codes are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from training.limits import PROJECTION_FIT_POINTS, projection_fit_points

if TYPE_CHECKING:  # sklearn takes seconds to import: only a projection or a neighbour search loads it
    from sklearn.neighbors import NearestNeighbors


class Projection:
    """scikit-learn's estimator conventions: hyperparameters are __init__'s keyword arguments, kept
    as attributes of the same names; fit(codes) returns self; what fitting learns ends in "_"
    (codes_, embedding_: the map's points, fit_codes_ / fit_embedding_: the subsample fitted).

    max_fit: fit on an even subsample of this many codes at most (the rest are placed by transform);
    None fits them all. transform(z) maps new codes; fitted ones land exactly on their points.
    """

    name = "projection"
    exact = False  # True: transform places fitted codes exactly already (no neighbour index needed)

    def __init__(self, *, max_fit: int | None = None):
        self.max_fit = max_fit

    def fit(self, codes: np.ndarray) -> "Projection":
        """Fit on the codes (an even subsample of max_fit when there are more); every code then
        gets its place, the subsample's from the fit and the rest's from transform."""
        self.codes_ = np.asarray(codes, dtype=np.float32)
        n, cap = len(self.codes_), self.max_fit
        take = None if cap is None or n <= cap else np.linspace(0, n - 1, cap).astype(int)
        self.fit_codes_ = self.codes_ if take is None else self.codes_[take]
        self.fit_embedding_ = np.asarray(self._fit(self.fit_codes_), dtype=np.float32)
        if take is None:
            self.embedding_ = self.fit_embedding_
        else:
            self.embedding_ = np.asarray(self._transform(self.codes_), dtype=np.float32)
            self.embedding_[take] = self.fit_embedding_
        self.index_: NearestNeighbors | None = None
        if not self.exact:
            from sklearn.neighbors import NearestNeighbors

            self.index_ = NearestNeighbors(n_neighbors=1).fit(self.codes_)
        return self

    def transform(self, z: np.ndarray) -> np.ndarray:
        if not hasattr(self, "embedding_"):
            raise RuntimeError("fit the projection before transforming")
        z = np.atleast_2d(np.asarray(z, dtype=np.float32))
        out = np.asarray(self._transform(z), dtype=np.float32)
        if self.exact:
            return out
        # A fitted code maps to its own embedding, whatever the method's out-of-sample rule.
        dist, idx = self.index_.kneighbors(z)
        seen = dist[:, 0] == 0
        out[seen] = self.embedding_[idx[seen, 0]]
        return out

    def _fit(self, codes: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _transform(self, z: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class Identity(Projection):
    name = "identity"
    exact = True

    def _fit(self, codes):
        if codes.shape[1] not in (1, 2):
            raise ValueError("the identity projection is for 1-D and 2-D codes")
        return self._transform(codes)

    def _transform(self, z):
        # 1-D codes lie on the map's horizontal axis: (N, 1) -> (N, 2) with a zero second column
        return z if z.shape[1] == 2 else np.concatenate([z, np.zeros_like(z)], axis=1)


class PCA(Projection):
    name = "pca"

    def _fit(self, codes):
        from sklearn.decomposition import PCA as SkPCA

        self.pca_ = SkPCA(n_components=2, random_state=0).fit(codes)
        return self.pca_.transform(codes)

    def _transform(self, z):
        return self.pca_.transform(z)


def neighbour_transform(projection: Projection, z: np.ndarray, k: int = 5) -> np.ndarray:
    """New codes go where their nearest fitted codes went (inverse-distance weighted, k = 5)."""
    from sklearn.neighbors import NearestNeighbors

    k = min(k, len(projection.fit_codes_))
    dist, idx = NearestNeighbors(n_neighbors=k).fit(projection.fit_codes_).kneighbors(z)
    w = 1.0 / (dist + 1e-9)
    return (projection.fit_embedding_[idx] * w[..., None]).sum(1) / w.sum(1, keepdims=True)


class UMAP(Projection):
    """UMAP on an exact k-nearest-neighbour graph from scikit-learn.

    Handing umap-learn the graph skips pynndescent, whose numba compilation took most of a
    fresh process's 37 s for 10,000 codes (bench/); with it, about 9 s. New codes are placed
    like t-SNE's, by their nearest fitted codes.
    """

    name = "umap"

    def __init__(
        self, *, n_neighbors: int = 15, min_dist: float = 0.1, seed: int = 0, n_epochs: int = 200, max_fit=None
    ):
        super().__init__(max_fit=max_fit)
        self.n_neighbors, self.min_dist, self.seed = n_neighbors, min_dist, seed
        # umap-learn runs 500 epochs up to 10,000 points; 200, its own choice for larger
        # sets, lays out a map as well in less than half the time.
        self.n_epochs = n_epochs

    def _fit(self, codes):
        import warnings

        import umap  # numba compiles on first use: imported only when asked for
        from sklearn.neighbors import NearestNeighbors

        k = min(int(self.n_neighbors), len(codes) - 1)
        dist, idx = NearestNeighbors(n_neighbors=k).fit(codes).kneighbors(codes)
        model = umap.UMAP(
            n_neighbors=k,
            min_dist=float(self.min_dist),
            random_state=int(self.seed),
            n_epochs=int(self.n_epochs),
            n_jobs=1,
            precomputed_knn=(idx, dist, None),
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "no search index": we place new codes ourselves
            return model.fit_transform(codes)

    def _transform(self, z):
        return neighbour_transform(self, z)


class TSNE(Projection):
    """t-SNE has no out-of-sample map; new codes are placed by their nearest fitted codes."""

    name = "tsne"

    def __init__(self, *, perplexity: float = 30, seed: int = 0, max_fit=None):
        super().__init__(max_fit=max_fit)
        self.perplexity, self.seed = perplexity, seed

    def _fit(self, codes):
        from sklearn.manifold import TSNE as SkTSNE

        perplexity = min(float(self.perplexity), max(1.0, (len(codes) - 1) / 3))
        return SkTSNE(n_components=2, perplexity=perplexity, random_state=int(self.seed), init="pca").fit_transform(
            codes
        )

    def _transform(self, z):
        return neighbour_transform(self, z)


@dataclass(frozen=True)
class Hyperparameter:
    """One of a method's __init__ arguments as the map's form offers it (and the URL bounds it)."""

    label: str
    default: float
    low: float
    high: float
    step: float  # 1 for a whole number


@dataclass(frozen=True)
class ProjectionSpec:
    make: Callable[..., Projection]
    label: str
    params: dict[str, Hyperparameter] = field(default_factory=dict)


PROJECTIONS: dict[str, ProjectionSpec] = {
    "pca": ProjectionSpec(PCA, "PCA"),
    "umap": ProjectionSpec(
        UMAP,
        "UMAP",
        {
            "n_neighbors": Hyperparameter("neighbours", 15, 2, 100, 1),
            "min_dist": Hyperparameter("min distance", 0.1, 0.0, 0.99, 0.01),
        },
    ),
    "tsne": ProjectionSpec(TSNE, "t-SNE", {"perplexity": Hyperparameter("perplexity", 30, 2, 100, 1)}),
}


# Work limits for a shared server (training/limits.py): the slow methods fit at most this many codes
# at their default settings, fewer at costlier ones (an even subsample; the rest go through
# transform), so one user cannot hold a core for minutes.
MAX_FIT_POINTS = PROJECTION_FIT_POINTS


def make_projection(method: str, latent_dim: int, **params: Any) -> Projection:
    """Identity for 1-D and 2-D codes, else the named method, fitting at most the codes its settings
    allow (limits.projection_fit_points: MAX_FIT_POINTS[method] at the default setting, fewer above)."""
    if latent_dim <= 2:
        return Identity()
    if method not in PROJECTIONS:
        raise ValueError(f"unknown projection {method!r}; choose one of {', '.join(PROJECTIONS)}")
    return PROJECTIONS[method].make(**{"max_fit": projection_fit_points(method, params), **params})
