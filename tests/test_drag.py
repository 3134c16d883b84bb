"""Drag to decode, without a browser: the weights the browser gets, and the server fallback."""

import base64
import dataclasses
import json

import numpy as np
import pytest

from explorer import webdecoder
from tests.helpers import TINY_MOONS, open_app, tiny_run
from training.config import ModelConfig
from training.models import build_model
from training.store import load_set

DRAG = "explorer/ui/pages/drag.py"


def run_exported(layers, z):
    """The browser's decoder, in numpy: what drag.js computes from the exported layers."""
    h = np.asarray(z, dtype=np.float64)
    for layer in layers:
        w = np.frombuffer(base64.b64decode(layer["w"]), np.float32).reshape(layer["n_out"], layer["n_in"])
        b = np.frombuffer(base64.b64decode(layer["b"]), np.float32)
        s = h @ w.T.astype(np.float64) + b
        h = np.maximum(s, 0) if layer["act"] == "relu" else 1 / (1 + np.exp(-s))
    return h


@pytest.mark.parametrize("kind", ["ae", "vae"])
def test_exported_mlp_layers_reproduce_the_decoder(tiny_pair_dir, kind):
    model = load_set(tiny_pair_dir)[kind].model
    layers = webdecoder.mlp_layers(model)
    assert [layer["act"] for layer in layers] == ["relu", "relu", "sigmoid"]
    z = np.random.default_rng(0).standard_normal((6, 2)) * 2
    assert np.abs(run_exported(layers, z) - webdecoder.decode_reference(model, z)).max() < 1e-5


def test_conv_decoders_are_not_exported():
    conv = build_model(ModelConfig(family="conv", latent_dim=2, in_shape=(1, 28, 28)))
    assert webdecoder.mlp_layers(conv) is None


def test_decoder_id_follows_the_weights(tiny_pair_dir):
    pair = load_set(tiny_pair_dir)
    assert webdecoder.decoder_id(pair["ae"].model) != webdecoder.decoder_id(pair["vae"].model)
    assert webdecoder.decoder_id(pair["ae"].model) == webdecoder.decoder_id(load_set(tiny_pair_dir)["ae"].model)


def test_drag_page_in_browser_mode_says_so(app):
    at = app(DRAG, dataset="moons", pair=TINY_MOONS)
    assert at.title[0].value == "Drag to decode"
    assert any("Mode: in-browser decoding" in c.value for c in at.caption)
    assert at.toggle(key="drag_server").value is False


def test_server_fallback_decodes_the_code_it_is_given(app):
    at = app(DRAG, dataset="moons", pair=TINY_MOONS, drag_server="true", drag_model="AE", dz="5.0,-3.0")
    assert any("Mode: server decoding" in c.value for c in at.caption)
    captions = [c for im in at.image for c in im.captions]
    assert any(c.startswith("server: AE decodes (5.00, -3.00)") for c in captions)
    before = [im.value for im in at.image]
    at.radio(key="drag_model").set_value("vae").run()  # another model: its own code, its own decode
    assert not at.exception and [im.value for im in at.image] != before


@pytest.fixture(scope="module")
def conv_runs(tmp_path_factory):
    """A conv pair (the browser runs only mlp decoders); 4 test images, as its save's exact log p(x)
    decodes a grid of thousands of codes for each (about 30 s on tiny_moons' 64)."""
    from training.runs import train_and_save

    runs = tmp_path_factory.mktemp("conv-runs")
    config = tiny_run(epochs=1, n_test=4)
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, family="conv", channels=(4, 8)))
    train_and_save(config, runs / "conv", progress_bar=False, iwae_k=2)
    return runs


def test_a_decoder_the_browser_cannot_run_falls_back_to_the_server(conv_runs, monkeypatch):
    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(conv_runs))
    at = open_app(DRAG, dataset="moons", pair="runs/conv")
    toggle = at.toggle(key="drag_server")
    assert toggle.value is True and toggle.disabled
    assert any("Mode: server decoding" in c.value for c in at.caption)
    assert any(c.startswith("server:") for im in at.image for c in im.captions)


def test_component_data_reaches_the_browser_without_importing_pandas():
    """Streamlit checks a component's data for dataframes, importing pandas (~2 s cold) for any value
    but a dict's scalars and strings: bridge.component_data must stay clear of that check."""
    import subprocess
    import sys

    code = (
        "import sys, numpy as np\n"
        "from streamlit.proto.BidiComponent_pb2 import BidiComponent\n"
        "from streamlit.components.v2.bidi_component.serialization import serialize_mixed_data\n"
        "from explorer.ui.bridge import component_data\n"
        "data = component_data({'points': [[1.0, 2.0], None], 'w': np.zeros(3), 'n': np.int64(4)})\n"
        "assert type(data) is dict and all(type(v) is str for v in data.values())  # a bare str is checked too\n"
        "proto = BidiComponent()\n"
        "serialize_mixed_data(data, proto)\n"
        "print('pandas' in sys.modules, proto.json)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    imported, payload = out.split(" ", 1)
    assert imported == "False"
    assert json.loads(json.loads(payload)["json"]) == {"points": [[1.0, 2.0], None], "w": [0.0, 0.0, 0.0], "n": 4}


def test_component_data_splices_a_part_encoded_before():
    """The point map's points are encoded once (bridge.json_object) and spliced into each move's data: the
    browser reads the same object as if all of it had been encoded at once, non-finite values as null."""
    from explorer.ui.bridge import component_data, json_object

    data, part = {"value": np.float32(0.5), "label": "VAE"}, {"points": np.array([[1.0, np.nan]]), "c": ["#fff"]}
    whole = json.loads(component_data({**data, **part})["json"])
    assert json.loads(component_data(data, json_object(part))["json"]) == whole
    assert whole["points"] == [[1.0, None]]
    assert json.loads(component_data({}, json_object(part))["json"]) == json.loads(json_object(part))
