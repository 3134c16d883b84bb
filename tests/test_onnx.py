"""ONNX sets: export ours, import theirs, the round trip within 1e-5 of torch, and every page on them.

The user's models are small torch modules exported inside the tests (MLP and conv; encoders giving mu and
logvar or only z; decoders giving logits or probabilities), imported the way a user would: the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from explorer.i18n import CATALOGUES
from explorer.ui.context import PAIRLESS
from tests.helpers import PAGES, image_with_caption, open_app, run_cli
from training.onnxio import EncoderGraph, export_module, export_set
from training.onnxset import MANIFEST
from training.store import dataset_for, find_sets, load_set

SIDE = 16  # conftest's tiny moons: 16x16


class MlpEncoder(nn.Module):
    """x (B, 1, 16, 16) -> mu, logvar (B, 2): a VAE's encoder as someone else might write it."""

    def __init__(self, d=2):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(SIDE * SIDE, 32), nn.Tanh())
        self.mu, self.logvar = nn.Linear(32, d), nn.Linear(32, d)

    def forward(self, x):
        h = self.body(x)
        return self.mu(h), self.logvar(h)


class ConvEncoder(nn.Module):
    """x -> z only (an AE's encoder), through a convolution."""

    def __init__(self, d=2):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(1, 4, 4, 2, 1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, d))

    def forward(self, x):
        return self.net(x)


def mlp_decoder(d=2):  # z -> logits
    return nn.Sequential(nn.Linear(d, 32), nn.Tanh(), nn.Linear(32, SIDE * SIDE), nn.Unflatten(1, (1, SIDE, SIDE)))


def conv_decoder(d=2):  # z -> probabilities, through a transposed convolution
    return nn.Sequential(
        nn.Linear(d, 4 * 8 * 8),
        nn.ReLU(),
        nn.Unflatten(1, (4, 8, 8)),
        nn.ConvTranspose2d(4, 1, 4, 2, 1),
        nn.Sigmoid(),
    )


@pytest.fixture(scope="session")
def user_graphs(tmp_path_factory):
    """A VAE (MLP, mu/logvar, logits) and an AE (conv, z, probabilities), exported as ONNX files."""
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("user-onnx")
    x, z = torch.rand(1, 1, SIDE, SIDE), torch.zeros(1, 2)
    export_module(MlpEncoder(), x, out / "vae_enc.onnx", "x", ("mu", "logvar"))
    export_module(mlp_decoder(), z, out / "vae_dec.onnx", "z", ("logits",))
    export_module(ConvEncoder(), x, out / "ae_enc.onnx", "x", ("z",))
    export_module(conv_decoder(), z, out / "ae_dec.onnx", "z", ("probabilities",))
    return out


TINY_DATA = ["--data", "moons", "--image-size", str(SIDE), "--regime", "sparse"]


@pytest.fixture(scope="session")
def onnx_runs(tmp_path_factory, user_graphs, tiny_pair_dir):
    """A runs folder with the user's pair imported by the CLI and conftest's tiny pair exported and imported."""
    import os

    runs = tmp_path_factory.mktemp("onnx-runs")
    old = os.environ.get("LATENT_EXPLORER_RUNS")
    os.environ["LATENT_EXPLORER_RUNS"] = str(runs)
    try:
        g = user_graphs
        result = run_cli(
            "import-onnx",
            *("--encoder", str(g / "vae_enc.onnx"), "--decoder", str(g / "vae_dec.onnx")),
            *("--encoder", str(g / "ae_enc.onnx"), "--decoder", f"ae={g / 'ae_dec.onnx'}"),
            *TINY_DATA,
            "--name",
            "theirs",
        )
        assert result.returncode == 0, result.stderr
        assert "imported runs/theirs" in result.stdout
        exported = export_set(tiny_pair_dir, runs.parent / f"{runs.name}-exported")
        result = run_cli("import-onnx", *_graph_flags(exported), *TINY_DATA, "--name", "ours")
        assert result.returncode == 0, result.stderr
    finally:
        if old is None:
            os.environ.pop("LATENT_EXPLORER_RUNS")
        else:
            os.environ["LATENT_EXPLORER_RUNS"] = old
    return runs


def _graph_flags(folder):
    return [
        flag
        for kind in ("ae", "vae")
        for flag in (
            "--encoder",
            f"{kind}={folder / f'{kind}.encoder.onnx'}",
            "--decoder",
            f"{kind}={folder / f'{kind}.decoder.onnx'}",
        )
    ]


def _max_gap(a, b, x):
    """Largest |torch - onnxruntime| over the test split: codes, stds, decoded images and logits."""

    def gap(u, v):  # codes and logits reach 30 or more: float32 rounding is relative to that scale
        return float((u - v).abs().max() / max(1.0, float(u.abs().max())))

    gaps = []
    with torch.no_grad():
        for kind in ("ae", "vae"):
            ma, mb = a[kind].model, b[kind].model
            pa, pb = ma.encode(x), mb.encode(x)
            gaps.append(gap(pa.mean, pb.mean))
            if pa.std is not None:
                gaps.append(gap(pa.std, pb.std))
            gaps.append(gap(ma.decode(pa.mean), mb.decode(pa.mean)))
            gaps.append(gap(ma.decode_logits(pa.mean), mb.decode_logits(pa.mean)))
    return max(gaps)


def test_round_trip_of_an_mlp_pair_is_within_1e5_of_torch(tiny_pair_dir, tmp_path):
    out = export_set(tiny_pair_dir, tmp_path / "exported")
    assert sorted(p.name for p in out.iterdir()) == [
        "ae.decoder.onnx",
        "ae.encoder.onnx",
        MANIFEST,
        "vae.decoder.onnx",
        "vae.encoder.onnx",
    ]
    a, b = load_set(tiny_pair_dir), load_set(out)
    assert b.source == "onnx" and a.source == "torch" and b.kind == "pair"
    assert _max_gap(a, b, dataset_for(a.lead.config).test.x) < 1e-5
    assert b["vae"].model.is_variational and not b["ae"].model.is_variational
    assert b["vae"].metrics == a["vae"].metrics  # the same functions: their measured numbers travel along


@pytest.mark.slow
def test_round_trip_of_the_bundled_conv_pair_is_within_1e5_of_torch(tmp_path):
    from training.store import set_path

    source = set_path("mnist5k-16d")
    assert load_set(source)["vae"].config.model.family == "conv"
    out = export_set(source, tmp_path / "conv")
    a, b = load_set(source), load_set(out)
    assert _max_gap(a, b, dataset_for(a.lead.config).test.x) < 1e-5


def test_export_refuses_a_conditional_set_with_its_reason(tmp_path):
    result = run_cli("export-onnx", "digits-label-cvae", "--out", str(tmp_path / "c"))
    assert result.returncode == 2
    assert "takes a condition c" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "c").exists()


def test_the_cli_exports_a_set_and_eval_measures_the_same_numbers(tiny_pair_dir, tmp_path):
    result = run_cli("export-onnx", str(tiny_pair_dir), "--out", str(tmp_path / "m"))
    assert result.returncode == 0, result.stderr
    torch_eval = run_cli("eval", str(tiny_pair_dir), "--iwae-k", "5", "--json")
    onnx_eval = run_cli("eval", str(tmp_path / "m"), "--iwae-k", "5", "--json")
    assert onnx_eval.returncode == 0, onnx_eval.stderr
    rows = [
        (json.loads(t), json.loads(o)) for t, o in zip(torch_eval.stdout.splitlines(), onnx_eval.stdout.splitlines())
    ]
    assert [t["kind"] for t, _ in rows] == [o["kind"] for _, o in rows] == ["ae", "vae"]
    for t, o in rows:
        for key in ("recon_bce", "recon_mse", "active_units"):
            assert o[key] == pytest.approx(t[key], rel=1e-4)
    assert rows[1][1]["exact_nll"] == pytest.approx(rows[1][0]["exact_nll"], rel=1e-4)


def test_graphs_exported_under_their_own_names_are_imported_and_run_like_torch(tmp_path, monkeypatch):
    """A user's export with their own names (images -> m, lv; code -> image): one output is read as z,
    two as mu then logvar, the decoder's kind from --decoder-output; codes and images match torch."""
    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(tmp_path / "runs"))
    torch.manual_seed(1)
    encoder, decoder = MlpEncoder().eval(), mlp_decoder().eval()
    export_module(encoder, torch.rand(1, 1, SIDE, SIDE), tmp_path / "enc.onnx", "images", ("m", "lv"))
    export_module(decoder, torch.zeros(1, 2), tmp_path / "dec.onnx", "code", ("image",))
    flags = ["--encoder", str(tmp_path / "enc.onnx"), "--decoder", str(tmp_path / "dec.onnx")]
    result = run_cli("import-onnx", *flags, *TINY_DATA, "--name", "named", "--decoder-output", "logits")
    assert result.returncode == 0, result.stderr
    model = load_set(tmp_path / "runs" / "named")["vae"].model
    x = torch.rand(5, 1, SIDE, SIDE)
    with torch.no_grad():
        mu, logvar = encoder(x)
        got = model.encode(x)
        assert torch.allclose(got.mean, mu, atol=1e-5) and torch.allclose(got.std, torch.exp(0.5 * logvar), atol=1e-5)
        assert torch.allclose(model.decode(mu), torch.sigmoid(decoder(mu)), atol=1e-5)


class LogvarFirst(nn.Module):
    """A VAE encoder whose forward returns (logvar, mu): exported under other names, position misleads."""

    def __init__(self, model):
        super().__init__()
        self.inner = EncoderGraph(model)

    def forward(self, x):
        mu, logvar = self.inner(x)
        return logvar, mu


@pytest.mark.parametrize("order", ["logvar_first", "mu_first"])
def test_two_unnamed_encoder_outputs_are_read_in_the_order_the_decoder_reconstructs_from(tmp_path, monkeypatch, order):
    """With both halves the import tries each order on test images: the one whose codes the decoder turns
    back into the images is mu; a (logvar, mu) graph is mapped the other way round and the manifest says so."""
    from training.onnxio import DecoderGraph
    from training.store import set_path

    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(tmp_path / "runs"))
    vae = load_set(set_path("moons-sparse-2d"))["vae"].model
    encoder = LogvarFirst(vae) if order == "logvar_first" else EncoderGraph(vae)
    export_module(encoder, torch.zeros(1, 1, 28, 28), tmp_path / "enc.onnx", "images", ("out_a", "out_b"))
    export_module(DecoderGraph(vae), torch.zeros(1, 2), tmp_path / "dec.onnx", "z", ("logits",))
    flags = ["--encoder", str(tmp_path / "enc.onnx"), "--decoder", str(tmp_path / "dec.onnx")]
    result = run_cli("import-onnx", *flags, "--data", "moons", "--regime", "sparse", "--name", "theirs")
    assert result.returncode == 0, result.stderr
    member = json.loads((tmp_path / "runs" / "theirs" / MANIFEST).read_text())["models"]["vae"]
    swapped = order == "logvar_first"
    assert member["names"]["encoder"]["mu"] == ("out_b" if swapped else "out_a")
    assert ("encoder_order" in member) == swapped and ("read as logvar, mu" in result.stdout) == swapped
    x = dataset_for(load_set(set_path("moons-sparse-2d"))["vae"].config).test.x[:16]
    with torch.no_grad():
        got, want = load_set(tmp_path / "runs" / "theirs")["vae"].model.encode(x), vae.encode(x)
    assert torch.allclose(got.mean, want.mean, atol=1e-5) and torch.allclose(got.std, want.std, atol=1e-5)


def test_import_lists_the_users_pair_beside_the_bundled_ones(onnx_runs, monkeypatch):
    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(onnx_runs))
    sets = find_sets("pair")
    assert {"runs/theirs", "runs/ours", "moons-sparse-2d"} <= set(sets)
    assert sets["runs/theirs"].source == "onnx" and sets["moons-sparse-2d"].source == "torch"
    theirs = load_set(sets["runs/theirs"].path)
    manifest = json.loads((onnx_runs / "theirs" / MANIFEST).read_text())
    assert manifest["models"]["ae"]["encoder"] == "z" and manifest["models"]["ae"]["decoder"] == "probabilities"
    assert manifest["models"]["vae"]["encoder"] == "mu_logvar" and manifest["models"]["vae"]["decoder"] == "logits"
    x = dataset_for(theirs.lead.config).test.x
    images = theirs["ae"].model.decode(theirs["ae"].model.encode(x).mean)
    assert images.shape == x.shape and 0 <= float(images.min()) and float(images.max()) <= 1
    index = {".index.json", ".index.lock"}  # the listing's index of runs/ (training/store.py)
    assert not [p for p in onnx_runs.iterdir() if p.name.startswith(".") and p.name not in index]  # no staging


def test_importing_the_same_name_twice_keeps_both(onnx_runs, user_graphs, monkeypatch):
    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(onnx_runs))
    g = user_graphs
    result = run_cli("import-onnx", "--decoder", str(g / "vae_dec.onnx"), *TINY_DATA, "--name", "theirs")
    assert result.returncode == 0, result.stderr
    assert "runs/theirs-2" in result.stdout and "no encoder" in result.stdout
    assert "runs/theirs-2" not in find_sets("pair")  # a decoder alone is not a pair
    assert find_sets()["runs/theirs-2"].kind == "onnx"


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("pair", ["runs/theirs", pytest.param("runs/ours", marks=pytest.mark.slow)])
def test_every_page_opens_an_imported_onnx_pair(onnx_runs, monkeypatch, page, pair):
    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(onnx_runs))
    at = open_app(f"explorer/ui/pages/{page}.py", dataset="moons", pair=pair)
    assert not at.exception
    if page in PAIRLESS:  # reads its own conditional sets, never the pair: no chooser, and it says why
        assert not [s for s in at.sidebar.selectbox if s.key == "pair"]
        assert any(c.value == CATALOGUES["en"]["side_pairless"] for c in at.sidebar.caption)
        return
    assert at.sidebar.selectbox(key="pair").value == pair
    assert any("ONNX" in c.value for c in at.sidebar.caption)


SINGLE = {  # set name -> import flags: one model, or one half of one
    "vae-encoder": ["--encoder", "vae_enc.onnx", "--latent-dim", "2"],
    "vae-decoder": ["--decoder", "vae_dec.onnx"],
    "lone-ae": ["--encoder", "ae_enc.onnx", "--decoder", "ae=ae_dec.onnx"],
    "lone-vae": ["--encoder", "vae_enc.onnx", "--decoder", "vae_dec.onnx"],
}
# What each page needs (View.needs); a set without it gets that one line, a set with it gets the page.
PAGE_NEEDS = {
    "latent_map": "encoder",
    "decoder": "decoder",
    "drag": "decoder",
    "manifold": "decoder",
    "inference": "density",
    "compare": "pair",
    "half_moon": "pair",
    "tour": "pair",
}
HAS = {
    "vae-encoder": {"encoder"},
    "vae-decoder": {"decoder"},
    "lone-ae": {"encoder", "decoder"},
    "lone-vae": {"encoder", "decoder", "density"},
}


@pytest.fixture(scope="session")
def single_runs(tmp_path_factory, user_graphs):
    """A runs folder with SINGLE's sets imported by the CLI."""
    runs = tmp_path_factory.mktemp("single-runs")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LATENT_EXPLORER_RUNS", str(runs))
        for name, flags in SINGLE.items():
            flags = [f"ae={user_graphs / f[3:]}" if f.startswith("ae=") else f for f in flags]
            flags = [str(user_graphs / f) if f.endswith(".onnx") and "=" not in f else f for f in flags]
            result = run_cli("import-onnx", *flags, *TINY_DATA, "--name", name)
            assert result.returncode == 0, result.stderr
    return runs


@pytest.mark.parametrize("page", PAGE_NEEDS)
@pytest.mark.parametrize("name", SINGLE)
def test_every_page_opens_a_single_model_set_or_says_what_it_needs(single_runs, monkeypatch, page, name):
    """Listed in the sidebar beside the pairs; a page that can work with what was brought does (no error),
    the others say in one line what they would need (en; the zh walk covers the catalogue)."""
    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(single_runs))
    at = open_app(f"explorer/ui/pages/{page}.py", dataset="moons", pair=f"runs/{name}")
    assert at.sidebar.selectbox(key="pair").value == f"runs/{name}"
    need = PAGE_NEEDS[page]
    said = CATALOGUES["en"][f"needs_{need}"].split("{pair}")[0]
    told = [i.value for i in at.info if i.value.startswith(said)]
    if need in HAS[name] and need != "pair":
        assert not told
        assert at.title and (at.image or at.get("plotly_chart") or at.slider), page
    else:
        assert told and f"runs/{name}" in told[0]


def test_a_decoder_alone_gets_sliders_over_the_prior_and_decodes(single_runs, monkeypatch):
    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(single_runs))
    at = open_app("explorer/ui/pages/decoder.py", dataset="moons", pair="runs/vae-decoder")
    assert (at.slider(key="z0").min, at.slider(key="z0").max, at.slider(key="z0").value) == (-3.0, 3.0, 0.0)
    before = image_with_caption(at, "VAE decodes").value
    at.slider(key="z0").set_value(2.0).run()
    assert not at.exception and image_with_caption(at, "VAE decodes").value != before
    assert any(c.value.startswith("VAE has no encoder") for c in at.caption)


def test_a_lone_2d_decoder_gets_the_drag_pad_over_the_prior(single_runs, monkeypatch):
    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(single_runs))
    at = open_app("explorer/ui/pages/drag.py", dataset="moons", pair="runs/vae-decoder")
    pad = CATALOGUES["en"]["drag_pad_prior"].format(model="VAE")
    assert [m.value for m in at.markdown if m.value.startswith("**Latent pad**")] == [pad]


def test_decoder_slider_decodes_through_onnxruntime(onnx_runs, monkeypatch):
    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(onnx_runs))
    at = open_app("explorer/ui/pages/decoder.py", dataset="moons", pair="runs/theirs")
    images = [im for im in at.image if im.captions and im.captions[0].startswith("VAE decodes")]
    before = images[0].value
    at.slider(key="z0").set_value(2.5).run()
    assert not at.exception
    after = [im for im in at.image if im.captions and im.captions[0].startswith("VAE decodes")][0]
    assert after.value != before and "2.50" in after.captions[0]


def test_onnx_graphs_run_with_one_thread_on_the_cpu(onnx_runs):
    members = load_set(onnx_runs / "theirs")
    session = members["vae"].model.onnx_decoder.live_session()
    assert session.get_providers() == ["CPUExecutionProvider"]
    assert session.get_session_options().intra_op_num_threads == 1
    codes = np.zeros((3, 2), np.float32)
    assert members["vae"].model.decode(torch.from_numpy(codes)).shape == (3, 1, SIDE, SIDE)


def test_an_uploaded_export_is_imported_with_its_manifest(tiny_pair_dir, tmp_path, monkeypatch):
    from training.onnxio import import_uploaded

    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(tmp_path / "runs"))
    exported = export_set(tiny_pair_dir, tmp_path / "exported")
    files = {p.name: p.read_bytes() for p in exported.iterdir()}
    imported = import_uploaded(files, None)
    assert imported.set_id == "runs/uploaded-onnx"
    assert find_sets("pair")["runs/uploaded-onnx"].source == "onnx"
    assert imported.manifest["data"] == json.loads((exported / MANIFEST).read_text())["data"]


def test_uploaded_bare_graphs_are_sorted_by_their_outputs(user_graphs, tmp_path, monkeypatch):
    from training.config import DataConfig
    from training.onnxio import import_uploaded
    from training.onnxset import OnnxError

    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(tmp_path / "runs"))
    data = DataConfig("moons", regime="sparse", image_size=SIDE)
    files = {n: (user_graphs / n).read_bytes() for n in ("vae_enc.onnx", "vae_dec.onnx")}
    files |= {"../../ae_enc.onnx": (user_graphs / "ae_enc.onnx").read_bytes()}  # a name is never a path
    files |= {"ae_dec.onnx": (user_graphs / "ae_dec.onnx").read_bytes()}
    imported = import_uploaded(files, data)
    models = imported.manifest["models"]
    assert models["ae"]["encoder"] == "z" and models["ae"]["decoder"] == "probabilities"
    assert models["vae"]["encoder"] == "mu_logvar" and models["vae"]["decoder"] == "logits"
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["uploaded-onnx"]
    with pytest.raises(OnnxError, match="say which data"):
        import_uploaded({"vae_dec.onnx": files["vae_dec.onnx"]}, None)
