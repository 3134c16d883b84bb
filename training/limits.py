"""Budgets for everything a user can ask of the server, checked BEFORE the memory is taken.

The one table of limits (below) and the checks that read it; training.readers reads a user's
files within them.

    images    sides and pixels read from the header before decoding, a decode-time budget
    datasets  at most MAX_PIXEL_VALUES values (N * C * H * W) in float32
    models    parameters and activations per batch computed from the config on the meta
              device (exact, and nothing allocated) before a model is built
    runs      check_run: the one budget check of a run's config (CLI, server, schema)
"""

from __future__ import annotations

import math
import time

import numpy as np

from .errors import LatentExplorerError

# --- the budget table: every limit the server and the CLI enforce, each defined here once ---------

# Images, for every dataset, upload and model input.
MIN_SIDE, MAX_SIDE = 4, 128  # image sides, in pixels
# User files (a zip, a folder or an .npz). MAX_IMAGES = 5,000 holds for uploads and folders alike
# (folders allowed 20,000 before): the dataset budget below is stated as 5,000 full-size images,
# decoding 5,000 files fits IMPORT_SECONDS, and a folder read on the server is user input as an upload is.
MAX_UPLOAD_BYTES = 50 * 2**20  # one uploaded file
MAX_IMAGES = 5_000  # image files in one user dataset
MAX_UNPACKED_BYTES = 200 * 2**20  # a zip's entries, or an .npz's arrays, once unpacked
MAX_UPLOAD_PIXELS = 1024 * 1024  # one image in an upload, from its header (stored as it is: a bomb is refused first)
MAX_FILE_PIXELS = 4096 * 4096  # one image of a folder, from its header (it is resized, so photos pass)
DECODE_SECONDS = 2.0  # one image file
IMPORT_SECONDS = 60.0  # all the images of one import
# Memory, checked from the config before anything is allocated.
MAX_PIXEL_VALUES = MAX_IMAGES * MAX_SIDE * MAX_SIDE  # a dataset: 5,000 grey 128 px images (328 MB as float32)
MAX_PARAMETERS = 20_000_000  # one model: 80 MB of weights, 320 MB with Adam's state and gradients
MAX_ACTIVATION_BYTES = 256 * 2**20  # one training batch's forward and backward values
MAX_LAYERS = 8  # hidden layers of an MLP
# Runs started from the app, shared by every user of one server (the CLI trains as its user asks).
MAX_CONCURRENT_RUNS = 2
MAX_EPOCHS = 200
MAX_TRAIN_IMAGES = 20_000  # of any dataset (MNIST has 60,000)
MAX_RUN_SECONDS = 15 * 60  # wall-clock limit of one run
# Data a run can measure, and models that compute sense (issue 25).
MIN_TRAIN_IMAGES = 2  # a split the metrics can use: an AE's fitted Gaussian needs 2 codes (a covariance)
MIN_TEST_IMAGES = 2  # active units are a variance across the test codes
MAX_ABS_CODE = 1e6  # a loaded model's codes on a check batch (bundled sets: at most 72)
MAX_ABS_LOGIT = 1e6  # a loaded model's decoder outputs before the sigmoid (bundled sets: at most 196)
CHECK_BATCH = 8  # images encoded and codes decoded when a set is first loaded or listed
SAVE_MARGIN_BYTES = 2**20  # free space a save needs beyond twice its weights (sidecars, history)
# Requests that cost everyone, sized before they start (issue 25).
PROJECTION_FIT_POINTS = {"umap": 10_000, "tsne": 5_000}  # codes a projection fits at its default setting
# The setting a fit's work grows with, and its default: a larger setting fits proportionally fewer codes
# (t-SNE at perplexity 100: 1,500; UMAP at 100 neighbours: 1,500), the rest placed by its transform.
PROJECTION_WORK = {"umap": ("n_neighbors", 15), "tsne": ("perplexity", 30)}
MAX_IWAE_K = 5_000  # importance samples per image for eval's IWAE bound
# Long requests from the app's pages (explorer/offload.py): computed in worker processes (nice 10, one
# thread), never in a page's script thread; identical requests share one computation.
MAX_LONG_REQUESTS = 2  # computing at once across every server process of one machine ($LATENT_EXPLORER_MAX_REQUESTS)
LONG_REQUEST_SECONDS = {  # CPU seconds one request may use in its worker (RLIMIT_CPU); stopped past it
    "projection": 180.0,  # a UMAP or t-SNE fit (at most PROJECTION_FIT_POINTS codes)
    "inference": 60.0,  # one test image's exact posterior, IWAE curve and q* (Exact inference, the tour)
    "pick": 60.0,  # the same with its set's posterior family panel (the Inference page, issue 28)
    "split_gaps": 240.0,  # the inference gaps of 100 test images
    "posterior_methods": 60.0,  # one image's posterior three ways (q, the grid, 8 Metropolis chains)
    "manifold": 60.0,  # one model's manifold grid (at most 30 x 30 decodes)
    "hole_map": 60.0,  # one model's 64 x 64 hole map
    "tour_midpoint": 90.0,  # the tour's measured midpoint
    "line_panels": 60.0,  # a 1-D pair's whole line
    "family_panel": 60.0,  # one image under one posterior family's set: exact log p(x), bounds, q*, map (issue 28)
    "same_decoder": 60.0,  # one image's q* in each family on one decoder (the Inference page, the tour's step 7)
    "tour_mixture": 60.0,  # one image's p(x) as a sum over 8^2 ... 64^2 decoder components (the tour's step 7)
    "split_families": 600.0,  # each family's set on 30 test images: exact log p(x) and q* for each
    "likelihoods": 60.0,  # the Train page's 200 decodes scored under every likelihood
}
LONG_REQUEST_WALL_FACTOR = 4.0  # wall-clock backstop: stopped after this many times its CPU budget of computing
LONG_RESULTS_BYTES = 256 * 2**20  # long requests' results kept on disk for every server process (LRU beyond it)
ABANDON_SECONDS = 20.0  # a request that no open page has asked about for this long is stopped
MAX_SESSION_REQUESTS = 12  # under way for one tab (asked within ABANDON_SECONDS); the Inference page asks for up to
# 5 at once (its image with its set's family panel, the other sets' panels, the same decoder's q*s) and lets the
# last pick's go when the next is made (waiting.ask), so picks in quick succession are not refused
MAX_QUEUED_REQUESTS = 128  # waiting for a worker in one server process; more are refused, not queued. A class:
# 30-60 tabs a process, and one Inference pick asks for 7 (16 refused the third student opening it); a waiting
# ticket is a few hundred bytes, and one no page asks about is stopped after ABANDON_SECONDS
# Text that names a file.
MAX_PATH_CHARS = 4096  # PATH_MAX on Linux; a name within it at most 255

# ONNX models from elsewhere (training/onnxset.py): checked before onnxruntime sees them
MAX_ONNX_BYTES = 64 * 2**20  # one .onnx file (weights inside it: external data is refused)
ONNX_OPSETS = (9, 23)  # default-domain opset versions accepted (torch.onnx, tf2onnx and jax2onnx emit 13-21)
ONNX_CALL_SECONDS = 10.0  # one encoder or decoder call; onnxruntime is told to stop past it
MAX_ONNX_VALUE = 1e6  # |codes| and |decoder outputs| above this are refused as broken (finite but gigantic)
# What every ONNX run of one process may hold at once (one arena they share; a graph asking for more is
# stopped before it gets it), and the rows per run that keep an honest model far below it.
ONNX_MEMORY_BYTES = 512 * 2**20
ONNX_BATCH = 512
# The graphs' own bytes (their weights) that live onnxruntime sessions of one process hold at once: past it
# the least recently run graph's session is dropped (and made again from its file when next run), so the
# app's cache of loaded sets is bounded by bytes, not by its count of sets (16 sets of 4 graphs of 64 MiB).
ONNX_WEIGHT_BYTES = 512 * 2**20
# Embeddings only (training/embeddings.py): codes a user brings, with labels and optionally images
MAX_EMBEDDING_BYTES = MAX_UPLOAD_BYTES  # one file of codes, labels or images (the app's upload cap too)
EMBEDDING_ROWS = (8, 10_000)  # N: enough to project; as many as the latent map draws without lag
EMBEDDING_DIMS = (2, 1024)  # d
MAX_LABEL_CHARS = 64  # one string label
MAX_CLASSES = 256  # distinct labels (each a colour and a legend entry)

IMAGE_FORMATS = ["PNG", "JPEG"]  # what Pillow may decode; never EPS (Ghostscript), never a plugin zoo


def named(name: str) -> str:
    """'name: ' to begin a message about a named file, or nothing."""
    return f"{name}: " if name else ""


class BudgetError(LatentExplorerError):
    """A request over one of this server's limits; the message names the limit."""


def check_pixel_values(n: int, shape: tuple[int, ...], source: str) -> None:
    """n images of shape (C, H, W) (or (H, W)) fit the dataset budget."""
    values = int(n) * int(np.prod(shape, dtype=np.int64))
    if values > MAX_PIXEL_VALUES:
        raise BudgetError(
            f"{named(source)}{n:,} images of {'x'.join(map(str, shape))} are {values / 1e6:,.0f} M pixel values; "
            f"this server holds at most {MAX_PIXEL_VALUES / 1e6:,.0f} M (e.g. {MAX_IMAGES:,} grey "
            f"{MAX_SIDE} px images)",
            key="err_limit_images_pixel_values",
            prefix=named(source),
            n=n,
            shape="x".join(map(str, shape)),
            millions=values / 1e6,
            limit_millions=MAX_PIXEL_VALUES / 1e6,
            max_images=MAX_IMAGES,
            max_side=MAX_SIDE,
        )


def check_path_text(text: object, what: str = "path") -> str:
    """Path text from a form, a URL or a file: a string without NUL or control characters, of a
    length the OS accepts. Checked before the text reaches Path() or the file system."""
    if not isinstance(text, str):
        raise LatentExplorerError(
            f"not a usable {what}: text expected, got {type(text).__name__}",
            key="err_limit_usable_text_expected",
            what=what,
            type=type(text).__name__,
        )
    if len(text) > MAX_PATH_CHARS or any(len(part) > 255 for part in text.split("/")):
        raise LatentExplorerError(
            f"not a usable {what}: too long ({len(text):,} characters; at most {MAX_PATH_CHARS:,}, 255 a name)",
            key="err_limit_usable_too_long",
            what=what,
            n=len(text),
            max_path_chars=MAX_PATH_CHARS,
        )
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise LatentExplorerError(
            f"not a usable {what}: it contains a control character (such as a NUL byte)",
            key="err_limit_usable_contains_control",
            what=what,
        )
    return text


def check_data(config) -> None:
    """A DataConfig within the dataset budget, where the config alone decides the size (moons)."""
    from . import moons

    if config.name == "moons":
        n = (config.n_train or moons.N_TRAIN) + (config.n_test or moons.N_TEST)
        check_pixel_values(n, (1, config.image_size, config.image_size), "moons")


def check_train_set(n: int) -> None:
    """A server run's training split, once its data is loaded (a user's .npz decides its own size)."""
    if n > MAX_TRAIN_IMAGES:
        raise BudgetError(
            f"the dataset has {n:,} training images; this server trains on at most "
            f"{MAX_TRAIN_IMAGES:,} (set a smaller training-set size)",
            key="err_limit_dataset_training_images",
            n=n,
            max_train_images=MAX_TRAIN_IMAGES,
        )


def check_run(config, *, batch: bool = False, server: bool = False) -> None:
    """The one budget check of a run (a RunConfig that validate() passed), from its config alone:
    the data the config decides, the model once its input shape is known (parameters, layers; with
    batch=True, a training batch's activations), and with server=True what a run on the shared
    server may ask for. Called by the CLI, the server's runs, the train form's start and the schema."""
    if server and config.train.epochs > MAX_EPOCHS:
        raise BudgetError(
            f"at most {MAX_EPOCHS} epochs on this server (asked for {config.train.epochs})",
            key="err_budget_epochs",
            limit=MAX_EPOCHS,
            got=config.train.epochs,
        )
    if server and config.data.n_train is not None and config.data.n_train > MAX_TRAIN_IMAGES:
        raise BudgetError(
            f"at most {MAX_TRAIN_IMAGES:,} training images on this server",
            key="err_limit_most_training_images",
            max_train_images=MAX_TRAIN_IMAGES,
        )
    check_data(config.data)
    if config.model.in_shape is not None:
        check_model(config.model, config.train.batch_size if batch else None)


def check_image_size(w: int, h: int, name: str, max_pixels: int, max_side: int | None = MAX_SIDE) -> None:
    """An image's size, from its header, within a pixel count (a decompression bomb) and the sides."""
    from .errors import DatasetError

    if w * h > max_pixels:
        raise DatasetError(
            f"{named(name)}{w}x{h} pixels; the limit is {max_pixels:,} per image",
            key="err_limit_pixels_limit_per",
            prefix=named(name),
            w=w,
            h=h,
            max_pixels=max_pixels,
        )
    if max_side is not None and not (MIN_SIDE <= w <= max_side and MIN_SIDE <= h <= max_side):
        raise DatasetError(
            f"{named(name)}{w}x{h}; image sides must be {MIN_SIDE} to {max_side} pixels",
            key="err_limit_image_sides_pixels",
            prefix=named(name),
            w=w,
            h=h,
            min_side=MIN_SIDE,
            max_side=max_side,
        )


class Deadline:
    """A time budget for many steps: check() between steps raises once it is spent."""

    def __init__(self, seconds: float, what: str):
        self.end, self.seconds, self.what = time.monotonic() + seconds, seconds, what

    def check(self) -> None:
        if time.monotonic() > self.end:
            raise BudgetError(
                f"{self.what} took over {self.seconds:g} s; refused",
                key="err_limit_took_over_refused",
                what=self.what,
                seconds=self.seconds,
            )


# --- models ----------------------------------------------------------------------------------------


def model_parameters(config) -> int:
    """Parameters of the model a ModelConfig builds: built on the meta device (exact, no memory taken,
    a few ms; no forward pass, which on meta would import torch._dynamo: seconds on a cold start).
    Kept per config (its repr: every field): a listing checks every saved sidecar with it."""
    import torch

    from .models import MODELS

    key = repr(config)
    if key not in _PARAMETERS:
        with torch.device("meta"):
            count = sum(p.numel() for p in MODELS[config.kind](config).parameters())
        if len(_PARAMETERS) > 4096:
            _PARAMETERS.clear()
        _PARAMETERS[key] = count
    return _PARAMETERS[key]


_PARAMETERS: dict[str, int] = {}


def activations_per_example(config) -> int:
    """Values the forward pass of one example produces (input and every leaf module's output).

    Built and run on the meta device: exact sizes, no memory taken.
    """
    import torch

    from .models import MODELS, condition_width

    with torch.device("meta"):
        model = MODELS[config.kind](config)
        x = torch.empty((1, *config.in_shape))
        values = [x.numel()]
        hooks = [
            m.register_forward_hook(lambda m, i, o: values.append(o.numel() if isinstance(o, torch.Tensor) else 0))
            for m in model.modules()
            if not list(m.children())
        ]
        try:
            if config.condition == "none":
                model(x, sample=True)
            else:
                model(x, torch.empty((1, condition_width(config))), sample=True)
        finally:
            for h in hooks:
                h.remove()
    return sum(values)


def check_model(config, batch_size: int | None = None) -> None:
    """Refuse a model over the parameter budget (and, given a batch size, the activation budget)."""
    if config.condition == "label" and config.n_classes is None:
        return  # the class count comes from the data; checked again once it is filled in
    if len(config.hidden) > MAX_LAYERS:
        raise BudgetError(
            f"at most {MAX_LAYERS} hidden layers on this server; got {len(config.hidden)}",
            key="err_budget_layers",
            limit=MAX_LAYERS,
            got=len(config.hidden),
        )
    params = model_parameters(config)
    if params > MAX_PARAMETERS:
        raise BudgetError(
            f"this model has {params / 1e6:,.1f} M parameters; this server allows {MAX_PARAMETERS / 1e6:,.0f} M "
            "(use fewer or narrower hidden layers)",
            key="err_budget_params",
            millions=params / 1e6,
            limit=MAX_PARAMETERS / 1e6,
        )
    if batch_size is not None:  # only when training starts: the forward pass counts the activations
        per_example = activations_per_example(config)
        # forward values kept for backward, their gradients, and the loss's copy of the output: ~3x
        need = 3 * 4 * per_example * batch_size
        if need > MAX_ACTIVATION_BYTES:
            raise BudgetError(
                f"a batch of {batch_size:,} needs about {need / 2**20:,.0f} MiB of activations for this model; "
                f"the limit is {MAX_ACTIVATION_BYTES // 2**20} MiB (use a smaller batch)",
                key="err_limit_batch_needs_about",
                batch_size=batch_size,
                mib=need / 2**20,
                limit_mib=MAX_ACTIVATION_BYTES // 2**20,
            )


def projection_fit_points(method: str, params: dict) -> int | None:
    """Codes a projection may fit with these settings (None: no limit, e.g. PCA): the work of the
    default setting at PROJECTION_FIT_POINTS, checked before the fit starts."""
    if method not in PROJECTION_FIT_POINTS:
        return None
    name, default = PROJECTION_WORK[method]
    try:
        setting = float(params.get(name, default))
    except (TypeError, ValueError):
        setting = float(default)
    setting = setting if math.isfinite(setting) and setting > default else float(default)
    return max(100, int(PROJECTION_FIT_POINTS[method] * default / setting))
