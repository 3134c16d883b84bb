"""Streamlit pieces shared by pages: images, the pickable latent map, the picked item."""

from __future__ import annotations

import numpy as np
import streamlit as st

from explorer import figures, images, latents
from explorer.figures import MODEL_COLOURS, PROBE, MapPanel, latent_maps
from explorer.ui import cache, urlstate
from explorer.ui.context import KINDS, LABELS, View
from explorer.ui.text import plain
from training import moons
from training.errors import LatentExplorerError
from training.metrics import manifold_distance, nearest_by_mse
from training.moons import nearest_phase_index
from training.store import find_sets


def show_image(image_chw: np.ndarray, caption: str | None = None, target: int = 140) -> None:
    side = image_chw.shape[-1]
    scale = images.display_scale(side, target)
    st.image(images.upscale(images.to_uint8(image_chw), scale), caption=caption, width=side * scale)


def show_strip(frames: np.ndarray, captions: list[str] | None = None, target: int = 64) -> None:
    """(N, C, H, W) images in one row, one image element holding N images."""
    scale = images.display_scale(frames.shape[-1], target)
    st.image(
        [images.upscale(images.to_uint8(f), scale) for f in frames], caption=captions, width=frames.shape[-1] * scale
    )


def pick_index(view: View) -> int:
    """The picked test item (URL: pick), clipped into range for the current pair."""
    return int(np.clip(st.session_state.get("pick", view.default_item()), 0, len(view.dataset.test) - 1))


def probe_code() -> tuple[int, np.ndarray] | None:
    """(panel, code) of an empty-space pick on a 2-D map (URL: at=x,y and at_kind), if that was the last pick."""
    z = latents.parse_code(st.session_state.get("at"), 2)
    if z is None:
        return None
    kind = st.session_state.get("at_kind", "vae")
    return (KINDS.index(kind) if kind in KINDS else 1), np.clip(z, -1e3, 1e3).astype(np.float32)


def clear_probe() -> None:
    """A test item chosen (typed or clicked): the last action wins over an empty-space pick."""
    for key in ("at", "at_kind"):
        st.session_state.pop(key, None)


def parse_customdata(data) -> tuple[int, int] | None:
    """[panel, item] as plotly sends it back: a list, or a dict keyed "0", "1" (WebGL traces)."""
    if isinstance(data, dict):
        data = [data.get("0", data.get(0)), data.get("1", data.get(1))]
    try:
        panel, item = (int(v) for v in list(data)[:2])
    except (TypeError, ValueError):
        return None
    return panel, item


def on_map_select(chart_key: str, on_pick=None) -> None:
    """Selection callback: a code picks its test item; empty space (2-D) picks a location."""
    state = st.session_state.get(chart_key)
    points = state.selection.get("points", []) if state else []
    if not points:
        return
    point = points[0]
    parsed = parse_customdata(point.get("customdata"))
    if parsed is None:
        return
    panel, item = parsed
    (on_pick or apply_pick)(panel, item, float(point["x"]), float(point["y"]))


def apply_pick(panel: int, item: int, x: float, y: float) -> None:
    """A pick on a latent map: a code picks its test item; empty space (2-D) picks that location."""
    if item == PROBE:
        st.session_state["at"] = f"{x:.4g},{y:.4g}"
        st.session_state["at_kind"] = KINDS[panel] if 0 <= panel < len(KINDS) else "vae"
    else:
        st.session_state["pick"] = item
        clear_probe()


def map_panels(
    view: View,
    *,
    ellipses: bool = False,
    paths: dict[str, np.ndarray] | None = None,
    markers: dict[str, np.ndarray] | None = None,
    probes: bool = False,
) -> list[MapPanel]:
    """One panel per model: codes projected (identity for 2-D), paths and markers transformed alike."""
    panels = []
    for kind in KINDS:
        codes = view.codes[kind]
        proj = view.projection(kind)
        two_d = view.latent_dim == 2
        points = proj.embedding
        panel = MapPanel(
            f"{LABELS[kind]} latent space" + ("" if two_d else f" ({proj.name.upper()} of {view.latent_dim}-D codes)"),
            points,
            axis_titles=("z0", "z1") if two_d else (f"{proj.name} 1", f"{proj.name} 2"),
            colour=MODEL_COLOURS[LABELS[kind]],
        )
        if ellipses and two_d and codes.std is not None:
            panel.std = codes.std
        if paths and kind in paths:
            panel.path = proj.transform(paths[kind])
        if markers and kind in markers:
            panel.marker = proj.transform(markers[kind][None])[0]
        if probes and two_d:
            panel.probe_box = latents.padded_bounds(points, 0.15)
        panels.append(panel)
    return panels


def latent_map_chart(view: View, key: str, selectable: bool = True, on_pick=None, **panel_options) -> None:
    """The two latent maps; a click picks (on_pick(panel, item, x, y) or the default picker)."""
    fig = latent_maps(map_panels(view, **panel_options), view.colouring())
    config = {"scrollZoom": True, "displaylogo": False}
    if not selectable:
        st.plotly_chart(fig, key=key, config=config)
        return
    st.plotly_chart(
        fig,
        key=key,
        on_select=lambda: on_map_select(key, on_pick),
        selection_mode="points",
        config=config,
    )


def static_map(view: View, key: str, ellipses: bool) -> None:
    """The latent map page's two maps, built once per pair, projection and options. The figure never
    holds the pick (pick_layer draws it), so a pick neither re-sends nor redraws it."""
    from explorer.ui.context import projection_choice

    def build():
        fig = latent_maps(map_panels(view, ellipses=ellipses, probes=True), view.colouring())
        # pick_layer picks (Plotly's selection would dim the rest); a click over 6 px from a dot is empty space
        return fig.update_layout(clickmode="event", hoverdistance=6)

    fig = cache.latent_map_figure(view.path, view.stamp, (projection_choice(), ellipses), build)
    st.plotly_chart(fig, key=key, config={"scrollZoom": True, "displaylogo": False})


def pick_layer(view: View, chart: str) -> None:
    """Over static_map's chart: reports a click as a pick (apply_pick) and draws the picked point."""
    from explorer.ui.map_pick import clicked, pick_layer

    key = f"{chart}_pick"
    marks = picked_codes(view)
    points = [view.projection(kind).transform(marks[kind][None])[0].tolist() for kind in KINDS]
    probe = probe_code()
    label = f"test item {pick_index(view)}" if probe is None else f"empty space at {latents.format_code(probe[1])}"

    def on_click() -> None:
        pick = clicked(key, len(KINDS), len(view.dataset.test), PROBE)
        if pick is not None:
            apply_pick(*pick)

    pick_layer(key, chart, points, label, on_click, PROBE if view.latent_dim == 2 else None)


def picked_codes(view: View) -> dict[str, np.ndarray]:
    """The current point in each model's space: the picked item's code, or the probed location."""
    probe = probe_code()
    index = pick_index(view)
    out = {kind: view.codes[kind].mean[index] for kind in KINDS}
    if probe is not None and view.latent_dim == 2:
        panel, code = probe
        out[KINDS[panel]] = code
    return out


def pad_bounds(points: np.ndarray, margin: float, min_extent: float = 0.0) -> list[float]:
    """[x0, x1, y0, y1] of the padded extent of (N, 2) points, as the canvas component takes it."""
    lo, hi = latents.padded_bounds(points, margin, min_extent)
    return [lo[0], hi[0], lo[1], hi[1]]


def point_colours(view: View, limit: int) -> tuple[np.ndarray, list[str]]:
    """An even subsample (at most limit) of the test items, coloured as on the latent map."""
    n = len(view.dataset.test)
    take = np.linspace(0, n - 1, min(n, limit)).astype(int)
    return take, figures.point_colours(view.colouring(), take)


def open_set(info):
    """(lead, second, dataset) of a conditional set (cvae, regression); st.error and stop if it cannot load."""
    path = str(info.path)
    try:
        models, data = cache.model_set(path, info.stamp), cache.dataset(path, info.stamp)
    except (LatentExplorerError, OSError) as exc:
        st.error(f"Could not open {plain(info.id)}: {plain(exc)}")
        st.stop()
    return models[info.kinds[0]], models[info.kinds[1]], data


def pair_models(view: View) -> dict:
    return {kind: view.model(kind) for kind in KINDS}


def show_nearest(view: View, image_chw: np.ndarray, title: str, k: int = 5) -> None:
    """The k training images nearest to image_chw, captioned with their MSE."""
    from explorer.analyses import METRIC_HELP  # lazy, as in scrubber: analyses is not needed to draw the map

    idx, dist = nearest_by_mse(image_chw[None], view.train_bank(), k=k)
    st.markdown(title, help=METRIC_HELP["nearest"])
    row = st.container(horizontal=True, gap="small")  # wraps in a narrow column instead of squeezing captions
    for i, d in zip(idx[0], dist[0]):
        with row:
            show_image(view.dataset.train.x[i].numpy(), f"{d:.4f}", target=64)


def phase_pair(view: View, cols, keys: tuple[str, str], labels: tuple[str, str], help: str | None = None):
    """Two URL-bound phases; the test items nearest to them on the cycle."""
    phases = view.dataset.test.factors["phase"]
    urlstate.seed(keys[0], 0.10, 0.0, 1.0)  # a crescent to a full moon: the tutorial's question
    urlstate.seed(keys[1], 0.50, 0.0, 1.0)
    pa = cols[0].number_input(labels[0], 0.0, 1.0, step=0.01, key=keys[0], help=help)
    pb = cols[1].number_input(labels[1], 0.0, 1.0, step=0.01, key=keys[1])
    return nearest_phase_index(phases, pa), nearest_phase_index(phases, pb)


def index_pair(view: View, cols, keys: tuple[str, str], labels: tuple[str, str]) -> tuple[int, int]:
    last = len(view.dataset.test) - 1
    defaults = different_items(view)
    for key, default in zip(keys, defaults):
        urlstate.seed(key, default, 0, last)
    a = cols[0].number_input(labels[0], 0, last, key=keys[0])
    return a, cols[1].number_input(labels[1], 0, last, key=keys[1])


def different_items(view: View) -> tuple[int, int]:
    """Two informative default endpoints: a crescent and a full moon on moons, the first items of two
    different classes on labelled data, else items 0 and 1."""
    test = view.dataset.test
    if "phase" in test.factors:
        phases = test.factors["phase"]
        return nearest_phase_index(phases, 0.10), nearest_phase_index(phases, 0.50)
    if test.y is not None:
        labels = test.y.numpy()
        first = int(labels[0])
        other = np.flatnonzero(labels != first)
        return 0, int(other[0]) if len(other) else min(1, len(test) - 1)
    return 0, min(1, len(test) - 1)


def set_endpoint(panel: int, item: int, x: float, y: float) -> None:
    """A pick on the map sets endpoint A or B (as the click_sets radio says), then flips to the other."""
    if item != PROBE:
        target = "idx_a" if st.session_state.get("click_sets", "A") == "A" else "idx_b"
        st.session_state[target] = item
        st.session_state["click_sets"] = "B" if target == "idx_a" else "A"


def class_pair(view: View, cols) -> tuple[int | None, int | None]:
    """A class and which one of it, for each endpoint."""
    labels = view.dataset.test.y.numpy()
    classes = sorted(np.unique(labels).tolist())
    names = view.dataset.class_names or [str(c) for c in classes]
    out = []
    for col, end, index in zip(cols, "ab", (0, min(1, len(classes) - 1))):
        urlstate.seed(f"class_{end}", classes[index], options=classes)  # two different classes
        label = col.selectbox(f"{end.upper()}: class", classes, format_func=lambda c: names[c], key=f"class_{end}")
        urlstate.seed(f"nth_{end}", 0, 0, 999)
        nth = col.number_input("which one", 0, 999, key=f"nth_{end}")
        out.append(latents.class_item(labels, label, nth))
    return out[0], out[1]


def point_map(view: View, kind: str, z: np.ndarray, key: str) -> None:
    """A light map (canvas, not plotly) of one model's codes with the current point marked.

    It redraws in about a millisecond, so a slider move is not held up by a chart remount.
    """
    from explorer.ui.drag import drag_component

    proj = view.projection(kind)
    take, colours = point_colours(view, 1500)
    points = proj.embedding
    payload = {
        "bounds": pad_bounds(points, 0.1, min_extent=1e-5),
        "points": points[take],
        "colours": colours,
        "value": proj.transform(z[None])[0],
        "label": f"{LABELS[kind]} latent map",
    }
    drag_component(key, "map", [], payload, "z")


@st.fragment
def scrubber(view: View, interps: dict, method: str, signature: str) -> None:
    """Drag t from 0 to 1: both decoders follow live in the browser; the released t is decoded here.
    The released t is one value (URL: t): the thumb is drawn where it was released."""
    from explorer import analyses, webdecoder
    from explorer.ui.drag import component_value, drag_component, last_value

    released = component_value(last_value("scrubber", "t"), None, 0.0, 1.0)  # finite, in [0, 1], or None
    if released is not None and released != st.session_state.get("_scrub_seen"):
        st.session_state["_scrub_seen"] = st.session_state["t"] = released  # a new release wins
    t = urlstate.seed("t", 0.5, 0.0, 1.0)
    urlstate.publish()  # a fragment rerun: the URL follows t before the images are drawn
    models = pair_models(view)
    endpoints = {
        webdecoder.decoder_id(models[k]): {"a": i.path[0], "b": i.path[-1], "method": method}
        for k, i in interps.items()
    }
    st.markdown("**Scrub** between A and B: both models' decodes at the same t, live while you drag.")
    described = [(LABELS[k], models[k]) for k in KINDS]
    drag_component("scrubber", "scrub", described, {"paths": endpoints, "value": t, "signature": signature}, "t")
    bank = cache.bank(view.path, view.stamp)  # scored as the page's chart is: true renders on moons
    st.caption("Distance of each released decode to real data.", help=analyses.METRIC_HELP["distance"])
    for col, kind in zip(st.columns(4), KINDS):
        decoded = analyses.decode_at(models[kind], interps[kind], method, t)
        dist = manifold_distance(decoded[None], bank)[0][0]
        with col:
            show_image(decoded, f"{LABELS[kind]} at t = {t:.3f} (released): distance {dist:.4f}", target=112)


def prior_grids(sets: list, scores: list[float], caption: str, limit: int | None = None) -> None:
    """Each prior-sample set as an 8-wide grid, captioned "<model>, z ~ <source>" + caption.format(score)."""
    for col, s, score in zip(st.columns(len(sets)), sets, scores):
        decoded = s.decoded[:limit]
        picture = images.upscale(images.grid(decoded, 8), images.display_scale(decoded.shape[-1], 40))
        col.image(picture, caption=f"{LABELS[s.kind]}, z ~ {s.source}" + caption.format(score), width="stretch")


def regime_switch(view: View) -> None:
    """Radio of the bundled 2-D moons pairs' regimes; choosing one switches the sidebar's pair to it."""
    pairs = find_sets("pair")
    ids = {r: f"moons-{r}-2d" for r in moons.REGIMES if f"moons-{r}-2d" in pairs}
    if not ids:
        return

    def switch() -> None:
        st.session_state["pair"] = ids[st.session_state["lab_regime"]]
        st.session_state["dataset"] = "moons"

    if view.pair_id in ids.values():
        st.session_state["lab_regime"] = view.pair["vae"].config.data.regime
    st.radio(
        "Training regime (bundled 2-D pairs)",
        list(ids),
        horizontal=True,
        key="lab_regime",
        on_change=switch,
        help="sparse: only crescents and full moons; gap: no phases near a half moon; full: every phase",
    )


def train_form(user_data: dict) -> dict | None:
    """The train form's values when submitted (analyses.train_config turns them into a run), else None."""
    from explorer.analyses import MODEL_CHOICES, UPLOAD_PREFIX
    from training import jobs
    from training.config import MAX_LATENT_DIM
    from training.datasets import DATASETS
    from training.models import FAMILIES

    options = [n for n, spec in DATASETS.items() if not spec.needs_path] + [UPLOAD_PREFIX + u for u in user_data]
    regimes = list(moons.REGIMES)
    with st.form("train_form"):
        st.markdown("**Train an AE and a VAE** with the same data, architecture, seed and schedule.")
        c = st.columns(4)
        shown = lambda d: d.replace(UPLOAD_PREFIX, "your upload: ")  # noqa: E731
        f = {"dataset": c[0].selectbox("Dataset", options, key="train_dataset", format_func=shown)}
        f["regime"] = c[1].selectbox(
            "Moons regime",
            regimes,
            index=regimes.index("sparse"),
            key="train_regime",
            help="moons only: which phases the training split holds",
        )
        f["jitter"] = c[2].checkbox("Moons: size/position jitter", key="train_jitter")
        f["n_train"] = c[3].number_input("Training images (0: all)", 0, jobs.MAX_TRAIN_IMAGES, 0, 100, key="train_n")
        c = st.columns(4)
        f["family"] = c[0].selectbox(
            "Architecture",
            list(FAMILIES),
            key="train_family",
            help="mlp decodes in your browser on the drag page; conv needs 28x28 or 32x32 images",
        )
        f["models"] = c[0].selectbox(
            "Models",
            list(MODEL_CHOICES),
            key="train_models",
            help="a CVAE is trained with its regression baseline, and shows on the Conditional VAE page",
        )
        f["latent_dim"] = c[1].number_input("Latent size", 1, MAX_LATENT_DIM, 2, key="train_latent")
        f["beta"] = c[2].number_input("β (KL weight)", 0.0, 100.0, 1.0, 0.5, key="train_beta")
        f["hidden"] = c[3].text_input("Hidden sizes", "128,64", key="train_hidden")
        c = st.columns(4)
        f["epochs"] = c[0].number_input(f"Epochs (max {jobs.MAX_EPOCHS})", 1, jobs.MAX_EPOCHS, 20, key="train_epochs")
        f["lr"] = c[1].number_input("Learning rate", 1e-5, 1.0, 1e-3, format="%.5f", key="train_lr")
        f["seed"] = c[2].number_input("Seed", 0, 1_000_000, 0, key="train_seed")
        f["warmup"] = c[3].number_input("KL warm-up epochs", 0, 1000, 0, key="train_warmup")
        f["name"] = st.text_input(
            "Run name",
            key="train_name",
            max_chars=60,
            placeholder="empty: dataset-regime-dim-time, e.g. moons-sparse-2d-20260612-1430",
            help="the run's folder under runs/ and its id in the link; letters, digits, '.', '-' and '_'",
        )
        submitted = st.form_submit_button("Train the pair", key="train_submit", type="primary")
    return f if submitted else None


def checkpoint_import() -> None:
    """A pair from a folder under the import roots, or four uploaded files, copied into runs/."""
    import tempfile
    from pathlib import Path

    from training.store import allowed_path, import_set

    st.subheader("Your own checkpoint")
    st.caption("A pair in this project's format: ae.safetensors, ae.json, vae.safetensors, vae.json (see the README).")
    c = st.columns([3, 1])
    folder = c[0].text_input("From a folder on this server", key="ckpt_path", placeholder="/path/to/pair")
    files = st.file_uploader(
        "…or upload the four files", accept_multiple_files=True, key="ckpt_files", type=["json", "safetensors"]
    )
    if not c[1].button("Load the pair", key="ckpt_load"):
        return
    try:
        if files:
            from explorer.analyses import latest_files

            wanted = {f"{k}{s}" for k in KINDS for s in (".json", ".safetensors")}
            with tempfile.TemporaryDirectory() as tmp:
                for name, f in latest_files(files, wanted).items():  # earlier attempts' files stay in the uploader
                    (Path(tmp) / name).write_bytes(f.getvalue())
                st.success(f"Loaded as {plain(import_set(tmp, 'uploaded-pair'))}: choose it in the sidebar.")
        elif folder:
            source = allowed_path(folder)
            st.success(f"Loaded as {plain(import_set(source, source.name))}: choose it in the sidebar.")
        else:
            st.info("Give a folder or upload the four files first.")
    except LatentExplorerError as exc:
        st.error(f"Not loaded: {plain(exc)}")
    except OSError as exc:
        st.error(f"Not loaded: {plain(exc.strerror or exc)}")


def dataset_upload(user_data: dict) -> None:
    """Import a .zip or .npz as a dataset the train form offers; list the ones imported."""
    from training import uploads
    from training.limits import MAX_IMAGES, MAX_SIDE, MAX_UPLOAD_BYTES, MIN_SIDE
    from training.store import uploads_dir

    st.subheader("Your own data")
    st.caption(
        f"A .zip of PNG/JPEG images (all the same size, {MIN_SIDE} to {MAX_SIDE} pixels; sub-folders become classes) "
        f"or an .npz with 'x' (N, H, W[, C]) and optional integer labels 'y'. Limits: "
        f"{MAX_UPLOAD_BYTES // 2**20} MiB upload, {MAX_IMAGES:,} images."
    )
    upload = st.file_uploader("Upload a dataset", type=["zip", "npz"], key="upload_data")
    if "import_message" in st.session_state:
        st.success(plain(st.session_state.pop("import_message")))
    if upload is not None and st.button("Import it", key="import_data"):
        try:
            imported = uploads.import_upload(upload.name, upload.getvalue(), uploads_dir())
            st.session_state["import_message"] = (
                f"Imported {imported.n_images:,} images of shape {imported.image_shape} as "
                f"'{imported.path.name}': choose 'your upload: {imported.path.name}' above to train on it."
            )
            st.rerun()  # the dataset chooser above lists it now
        except LatentExplorerError as exc:
            st.error(f"Not imported: {plain(exc)}")
    if user_data:
        from explorer.analyses import upload_rows

        st.dataframe(upload_rows(user_data), hide_index=True)
