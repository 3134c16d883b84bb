"""The app's long requests as plain functions of hashable arguments (explorer/offload.py runs them).

Each reads the set from its folder (path, and stamp: the sidecars' time, so a rewritten set is a new
request) through this process's own small caches: a worker process holds the models and codes it
needs once, not once a request. Nothing here imports streamlit.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from explorer import images, latents
from training.kinds import PAIR_KINDS


@lru_cache(maxsize=4)
def model_set(path: str, stamp: float):
    from training.store import load_set

    return load_set(path)


@lru_cache(maxsize=4)
def dataset(path: str, stamp: float):
    from training.store import dataset_for

    return dataset_for(model_set(path, stamp).lead.config)  # allowed roots, no download, shape checked


@lru_cache(maxsize=16)
def codes(path: str, stamp: float, kind: str, split: str = "test") -> latents.Codes:
    return latents.split_codes(model_set(path, stamp)[kind].model, getattr(dataset(path, stamp), split))


@lru_cache(maxsize=4)
def bank(path: str, stamp: float):
    from training.bank import bank_for

    return bank_for(dataset(path, stamp))


def projection(path: str, stamp: float, kind: str, method: str, params: tuple):
    """A fitted projection of the test codes (explorer.projection; at most its fit-point budget)."""
    from explorer.projection import make_projection

    model_codes = codes(path, stamp, kind)
    return make_projection(method, model_codes.mean.shape[1], **dict(params)).fit(model_codes.mean)


def inference(path: str, stamp: float, index: int):
    """explorer.inference.ImageInference of one test image under the pair's VAE."""
    from explorer.inference import analyse_image

    return analyse_image(model_set(path, stamp)["vae"].model, dataset(path, stamp).test.x[index : index + 1])


def pick(path: str, stamp: float, index: int):
    """explorer.inference.analyse_pick of one test image under the pair's VAE: the Inference page's own
    analysis and its families panel, in one request."""
    from explorer.inference import analyse_pick

    return analyse_pick(model_set(path, stamp)["vae"].model, dataset(path, stamp).test.x[index : index + 1])


def posterior_methods(path: str, stamp: float, index: int):
    """explorer.sampling.PosteriorMethods of one test image: q, the exact grid and a Metropolis chain, costed."""
    from explorer.sampling import compare

    return compare(model_set(path, stamp)["vae"].model, dataset(path, stamp).test.x[index : index + 1])


def split_gaps(path: str, stamp: float, n: int = 100):
    from explorer.inference import split_gaps as measure

    return measure(model_set(path, stamp)["vae"].model, dataset(path, stamp).test.x, n)


def family_panel(path: str, stamp: float, index: int):
    """explorer.inference.FamilyPanel of one test image under the set's VAE (one posterior family's model
    of the Inference page's families section; the page asks for each on the worker pool at once)."""
    from explorer.inference import family_panel as measure

    return measure(model_set(path, stamp)["vae"].model, dataset(path, stamp).test.x[index : index + 1])[0]


def same_decoder(path: str, stamp: float, index: int, families=("diag", "full"), exact: bool = True) -> dict:
    """family -> training.families.FamilyNumbers of one test image: the set's decoder, q* in each family
    (the tour's step 7 names the two Gaussian ones); exact False leaves log p(x) to the caller
    (explorer.inference.join_families: the Inference page has it from the set's panel)."""
    from training.families import same_decoder as measure

    x = dataset(path, stamp).test.x[index : index + 1]
    return measure(model_set(path, stamp)["vae"].model, x, families=tuple(families), exact=exact)


def split_families(members: tuple[tuple[str, str, float], ...], n: int | None = None) -> dict:
    """name -> explorer.inference.FamilyNumbers on n test images spread through the split."""
    from training.families import split_families as measure

    models = {name: model_set(path, stamp)["vae"].model for name, path, stamp in members}
    return measure(models, dataset(members[0][1], members[0][2]).test.x, n)


def manifold(path: str, stamp: float, kind: str, n: int) -> tuple[latents.ManifoldGrid, object, bytes]:
    """One model's n x n grid over its 2-D latent plane, the decodes tiled as one uint8 image, and its PNG."""
    model = model_set(path, stamp)[kind].model
    if getattr(model, "can_encode", True):
        train = None if model.is_variational else codes(path, stamp, kind, "train").mean
        grid = latents.model_manifold_grid(model, n, train)
    else:  # a decoder without its encoder: no codes to fit, the prior's quantiles
        grid = latents.manifold_grid(n)
    tiled = images.grid(latents.decode(model, grid.codes), n, pad=0)
    return grid, tiled, images.png_bytes(tiled)


def hole_map(path: str, stamp: float, kind: str, a: int, b: int, n: int):
    """The grid (2-D: the whole plane, independent of a and b) and its (n, n) manifold distances."""
    from training.geometry import hole_map as distances

    model_codes = codes(path, stamp, kind)
    grid = latents.hole_grid(model_codes.mean, model_codes.mean[a], model_codes.mean[b], n)
    return grid, distances(model_set(path, stamp)[kind].model, bank(path, stamp), grid.codes, n)


def tour_midpoint(path: str, stamp: float, a: int, b: int, steps: int, lab_path: str, lab_mtime: float):
    """The tour's step 6: both models' paths between a and b, scored, beside the lab's cell."""
    from explorer import tour

    pair = model_set(path, stamp)
    models = {kind: pair[kind].model for kind in PAIR_KINDS}
    found = {kind: codes(path, stamp, kind) for kind in PAIR_KINDS}
    lab = json.loads(Path(lab_path).read_text()) if lab_path else None
    return tour.midpoint(models, found, bank(path, stamp), dataset(path, stamp), a, b, steps, pair["vae"].config, lab)


def likelihoods(path: str, stamp: float, n: int, sigma: float):
    """explorer.likelihoods.Likelihoods: the pair's VAE's decodes of its first n test images under every p(x|z)."""
    from explorer.likelihoods import measure

    return measure(model_set(path, stamp)["vae"].model, dataset(path, stamp).test.x[:n], sigma)


def line_panels(path: str, stamp: float, labels: tuple[tuple[str, str], ...]):
    """A 1-D pair's whole line, decoded, for both models."""
    from explorer import analyses

    pair = model_set(path, stamp)
    models = {kind: pair[kind].model for kind in PAIR_KINDS}
    test = {kind: codes(path, stamp, kind) for kind in PAIR_KINDS}
    train = {kind: codes(path, stamp, kind, "train") for kind in PAIR_KINDS}
    return analyses.line_panels(models, test, train, bank(path, stamp), dict(labels))


def tour_mixture(path: str, stamp: float, index: int):
    """The tour's step 7: one test image's p(x) as a sum of the decoder's Gaussians over the 2-D prior
    (explorer.tour.Mixture: about 5,400 decodes)."""
    from explorer import tour

    return tour.mixture(model_set(path, stamp)["vae"].model, dataset(path, stamp).test.x[index : index + 1])
