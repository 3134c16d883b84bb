import gzip
import struct

import numpy as np
import pytest
import torch
from PIL import Image

from training import moons
from training.config import DataConfig
from training.datasets import DATASETS, load_dataset
from training.errors import DatasetError, LatentExplorerError

BUILT_IN = [name for name, spec in DATASETS.items() if not spec.needs_path and not spec.downloads]


@pytest.mark.parametrize("name", BUILT_IN)
def test_builtin_datasets_have_images_in_unit_range(name):
    ds = load_dataset(DataConfig(name, n_train=200, n_test=50))
    for split in (ds.train, ds.test):
        assert split.x.dtype == torch.float32
        assert split.x.ndim == 4 and split.x.shape[1] in (1, 3)
        assert 0.0 <= float(split.x.min()) and float(split.x.max()) <= 1.0
        assert float(split.x.max()) > 0.5  # not all black
    assert len(ds.train) == 200 and len(ds.test) == 50
    assert ds.description


@pytest.mark.parametrize("name", BUILT_IN)
def test_builtin_datasets_are_deterministic_for_a_seed(name):
    a = load_dataset(DataConfig(name, n_train=100, n_test=20, seed=1))
    b = load_dataset(DataConfig(name, n_train=100, n_test=20, seed=1))
    c = load_dataset(DataConfig(name, n_train=100, n_test=20, seed=2))
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.test.x, b.test.x)
    assert not torch.equal(a.train.x, c.train.x)


def test_digits_are_real_8x8_with_labels():
    ds = load_dataset(DataConfig("digits"))
    assert ds.image_shape == (1, 8, 8)
    assert len(ds.train) + len(ds.test) == 1797
    assert set(ds.train.y.tolist()) == set(range(10))
    assert ds.class_names == [str(d) for d in range(10)]


def test_moon_phases_render_what_they_claim():
    new, half, full, last = (moons.render(p) for p in (0.0, 0.25, 0.5, 0.75))
    assert new.max() < 0.15  # dark but for the soft limb
    assert full.sum() > 1.8 * half.sum()  # full disc is about twice a half disc
    assert half.sum() == pytest.approx(last.sum(), rel=0.01)
    mid = half.shape[1] // 2
    assert half[:, mid + 2 :].sum() > 10 * half[:, : mid - 2].sum()  # first quarter: right half lit
    assert last[:, : mid - 2].sum() > 10 * last[:, mid + 2 :].sum()  # last quarter: left half lit


def test_moons_change_continuously_with_phase():
    phases = np.linspace(0.02, 0.98, 97)
    images = moons.render(phases)
    step_3 = np.abs(moons.render(phases + 1e-3) - images).max()
    step_4 = np.abs(moons.render(phases + 1e-4) - images).max()
    assert step_3 < 0.1  # a 0.001 phase step moves no pixel by more than 10%
    assert step_4 < 0.15 * step_3  # and the change shrinks with the step: no jumps
    big = np.abs(moons.render(phases + 0.05) - images).mean(axis=(1, 2))
    assert big.min() > 0.005  # but the image does change


def test_nuisance_factors_move_and_scale_the_disc():
    base = moons.render(0.5)
    shifted = moons.render(0.5, dx=2.0)
    cols = np.arange(base.shape[1])
    centre = lambda im: (im.sum(0) * cols).sum() / im.sum()  # noqa: E731
    assert centre(shifted) - centre(base) == pytest.approx(2.0, abs=0.05)
    assert moons.render(0.5, scale=0.8).sum() == pytest.approx(0.64 * base.sum(), rel=0.05)


def test_sparse_regime_has_no_half_moons_and_test_covers_every_phase():
    ds = load_dataset(DataConfig("moons", regime="sparse", n_train=2000, n_test=500, image_size=8))  # phases only
    train_phase = ds.train.factors["phase"]
    for half in moons.HALF_MOON_PHASES:
        assert moons.circular_distance(train_phase, half).min() > 0.1
    test_phase = ds.test.factors["phase"]
    counts = np.histogram(test_phase, bins=20, range=(0, 1))[0]
    assert counts.min() > 0  # every twentieth of the cycle is in the test split
    assert moons.circular_distance(test_phase, 0.25).min() < 0.01


def test_gap_regime_drops_a_band_around_half_moons():
    ds = load_dataset(DataConfig("moons", regime="gap", n_train=2000, image_size=8))  # phases only
    phase = ds.train.factors["phase"]
    assert moons.circular_distance(phase, 0.25).min() >= moons.GAP_HALF_WIDTH
    assert moons.circular_distance(phase, 0.75).min() >= moons.GAP_HALF_WIDTH
    assert moons.circular_distance(phase, 0.5).min() < 0.01  # full moons are still there


def test_every_moon_sample_carries_its_true_phase():
    ds = load_dataset(DataConfig("moons", n_train=20, n_test=5))
    rendered = moons.render(ds.train.factors["phase"])
    assert np.allclose(rendered, ds.train.x[:, 0].numpy())


def test_unknown_dataset_name_gives_the_choices():
    with pytest.raises(LatentExplorerError, match="unknown dataset 'nope'.*moons"):
        load_dataset(DataConfig("nope"))


# --- a user's own data ---------------------------------------------------------------------


def test_folder_loader_reads_classes_from_subfolders(tmp_path):
    rng = np.random.default_rng(0)
    for cls in ("cats", "dogs"):
        (tmp_path / cls).mkdir()
        for i in range(5):
            Image.fromarray(rng.integers(0, 255, (20, 30), dtype=np.uint8)).save(tmp_path / cls / f"{i}.png")
    ds = load_dataset(DataConfig("folder", path=str(tmp_path), image_size=16))
    assert ds.image_shape == (1, 16, 16)  # grayscale stays one channel, resized
    assert len(ds.train) + len(ds.test) == 10
    assert ds.class_names == ["cats", "dogs"]
    assert set(torch.cat([ds.train.y, ds.test.y]).tolist()) == {0, 1}


def test_folder_loader_keeps_colour(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(8):  # datasets.min_images()
        Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(tmp_path / f"{i}.jpg")
    ds = load_dataset(DataConfig("folder", path=str(tmp_path), image_size=8))
    assert ds.image_shape == (3, 8, 8)
    assert ds.class_names is None and ds.train.y is None


def test_folder_without_images_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DatasetError, match="no PNG or JPEG"):
        load_dataset(DataConfig("folder", path=str(tmp_path)))


@pytest.mark.parametrize(
    "x",
    [
        np.random.default_rng(0).integers(0, 256, (10, 12, 12), dtype=np.uint8),
        np.random.default_rng(0).random((10, 12, 12, 3), dtype=np.float32),
        np.random.default_rng(0).random((10, 1, 12, 12)),
    ],
    ids=["uint8-NHW", "float-NHWC", "float64-NCHW"],
)
def test_npz_loader_accepts_common_layouts(tmp_path, x):
    path = tmp_path / "data.npz"
    np.savez(path, x=x, y=np.arange(10) % 3)
    ds = load_dataset(DataConfig("npz", path=str(path)))
    channels = 3 if x.shape[-1] == 3 else 1
    assert ds.image_shape == (channels, 12, 12)
    assert float(ds.train.x.max()) <= 1.0
    assert ds.class_names == ["0", "1", "2"]


@pytest.mark.parametrize(
    "x, message",
    [
        (np.full((4, 8, 8), np.nan, dtype=np.float32), "NaN"),
        (np.zeros((4, 8), dtype=np.float32), "shape"),
        (np.full((4, 8, 8), 7.0), r"\[0, 1\]"),
        (np.zeros((1, 8, 8), dtype=np.uint8), "at least 8"),
    ],
    ids=["nan", "wrong-shape", "out-of-range", "one-image"],
)
def test_npz_loader_refuses_bad_arrays(tmp_path, x, message):
    path = tmp_path / "bad.npz"
    np.savez(path, x=x)
    with pytest.raises(DatasetError, match=message):
        load_dataset(DataConfig("npz", path=str(path)))


def test_npz_with_pickled_objects_is_refused(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, x=np.array([object(), object()], dtype=object))
    with pytest.raises(DatasetError):
        load_dataset(DataConfig("npz", path=str(path)))


# --- MNIST-format files, written here: no network ------------------------------------------


def write_idx(path, array: np.ndarray, compress: bool):
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    if compress:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data)
    path.write_bytes(data)


@pytest.mark.parametrize("name, folder", [("mnist", "MNIST"), ("fashion-mnist", "FashionMNIST")])
def test_mnist_format_loaders_read_idx_files(tmp_path, name, folder):
    raw = tmp_path / folder / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 12), ("t10k", 5)):
        write_idx(raw / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)), compress=False)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", np.arange(n) % 10, compress=False)
    ds = load_dataset(DataConfig(name, data_dir=str(tmp_path)))
    assert ds.image_shape == (1, 28, 28)
    assert (len(ds.train), len(ds.test)) == (12, 5)
    assert ds.train.y.tolist() == [i % 10 for i in range(12)]
    assert len(ds.class_names) == 10


def test_mnist_offline_and_missing_says_where_to_put_the_files(tmp_path, monkeypatch):
    import torchvision.datasets as tvd

    # An address that refuses at once: this test never reaches the real network.
    monkeypatch.setattr(tvd.MNIST, "mirrors", ["http://127.0.0.1:9/"])
    with pytest.raises(DatasetError, match=r"copy train-images-idx3-ubyte.*MNIST[/\\]raw"):
        load_dataset(DataConfig("mnist", data_dir=str(tmp_path)))
