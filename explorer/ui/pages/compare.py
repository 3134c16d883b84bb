"""AE vs VAE: the same endpoints interpolated in both models, side by side."""

import numpy as np
import streamlit as st

from explorer import images, latents, webdecoder
from explorer.figures import PROBE, step_distances
from explorer.ui.context import KINDS, LABELS, current_view
from explorer.ui.drag import component_value, drag_component
from explorer.ui.widgets import latent_map_chart, show_image, show_strip
from training.losses import kl_to_standard_normal

view = current_view()
test = view.dataset.test
n_test = len(test)
st.title("AE vs VAE")
st.caption(
    "Pick two test images. Each model interpolates between its own codes for them; the strips show what "
    "each decoder makes of the space in between."
)

# --- endpoints ---------------------------------------------------------------------------------
modes = ["by index", "picked on the map"]
if "phase" in test.factors:
    modes.insert(0, "by phase")
elif test.y is not None:
    modes.insert(0, "by class")
mode = st.radio("Choose the endpoints", modes, horizontal=True, key="ends_mode", bind="query-params")
left, right = st.columns(2)
if mode == "by phase":
    phase_a = left.number_input(
        "A: phase",
        0.0,
        1.0,
        0.10,
        0.01,
        key="phase_a",
        bind="query-params",
        help="0 new, 0.1 crescent, 0.25 half, 0.5 full",
    )
    phase_b = right.number_input("B: phase", 0.0, 1.0, 0.50, 0.01, key="phase_b", bind="query-params")
    a = latents.nearest_phase_item(test.factors["phase"], phase_a)
    b = latents.nearest_phase_item(test.factors["phase"], phase_b)
elif mode == "by class":
    labels = test.y.numpy()
    classes = sorted(np.unique(labels).tolist())
    names = view.dataset.class_names or [str(c) for c in classes]
    class_a = left.selectbox(
        "A: class", classes, index=0, format_func=lambda c: names[c], key="class_a", bind="query-params"
    )
    nth_a = left.number_input("which one", 0, 999, 0, key="nth_a", bind="query-params")
    class_b = right.selectbox(
        "B: class",
        classes,
        index=min(1, len(classes) - 1),
        format_func=lambda c: names[c],
        key="class_b",
        bind="query-params",
    )
    nth_b = right.number_input("which one", 0, 999, 0, key="nth_b", bind="query-params")
    a, b = latents.class_item(labels, class_a, nth_a), latents.class_item(labels, class_b, nth_b)
else:
    a = left.number_input("A: test item", 0, n_test - 1, 0, key="idx_a", bind="query-params")
    b = right.number_input("B: test item", 0, n_test - 1, min(1, n_test - 1), key="idx_b", bind="query-params")
    if mode == "picked on the map":
        st.radio("A click on the map sets", ["A", "B"], horizontal=True, key="click_sets")

settings = st.columns(4)
steps = settings[0].slider("Steps", 3, 21, 11, key="steps", bind="query-params")
method = settings[1].radio("Path", list(latents.INTERPOLATIONS), horizontal=True, key="interp", bind="query-params")
vae_mode = settings[2].radio(
    "VAE endpoints",
    ["posterior mean", "sample"],
    horizontal=True,
    key="vae_codes",
    bind="query-params",
    help="sample: z = mean + std · ε with one fixed noise vector ε for both endpoints",
)
noise_seed = settings[3].number_input(
    "noise seed", 0, 10_000, 0, key="noise_seed", bind="query-params", disabled=vae_mode != "sample"
)

# --- paths -----------------------------------------------------------------------------------------
noise = None
if vae_mode == "sample":
    noise = np.random.default_rng(int(noise_seed)).standard_normal(view.latent_dim).astype(np.float32)
paths, strips = {}, {}
for kind in KINDS:
    za, zb = latents.endpoint_codes(view.codes[kind], int(a), int(b), noise if kind == "vae" else None)
    paths[kind] = latents.INTERPOLATIONS[method](za, zb, steps).astype(np.float32)
    strips[kind] = latents.decode(view.model(kind), paths[kind])

st.markdown(f"**A** = test item {a} ({view.describe_item(a)}) → **B** = test item {b} ({view.describe_item(b)})")
ends = st.columns([1, 1, 6])
with ends[0]:
    show_image(test.x[a].numpy(), "A", target=72)
with ends[1]:
    show_image(test.x[b].numpy(), "B", target=72)
for kind in KINDS:
    st.markdown(f"**{LABELS[kind]}**: {steps} steps, {method}, in its own latent space")
    show_strip(strips[kind], target=56)


@st.fragment
def scrubber() -> None:
    """Drag t from 0 to 1: both decoders follow live; the released t comes back here."""
    models = [(LABELS[k], view.model(k)) for k in KINDS]
    ids = {k: webdecoder.decoder_id(view.model(k)) for k in KINDS}
    endpoints = {ids[k]: {"a": paths[k][0], "b": paths[k][-1], "method": method} for k in KINDS}
    st.markdown("**Scrub** between A and B: both models' decodes at the same t, live while you drag.")
    result = drag_component(
        "scrubber",
        "scrub",
        models,
        {"paths": endpoints, "value": 0.5, "signature": f"{a}-{b}-{method}-{vae_mode}-{noise_seed}"},
        "t",
    )
    t = component_value(getattr(result, "t", None), None, 0.0, 1.0)
    t = 0.5 if t is None else t
    cols = st.columns(6)
    decoded = {
        kind: latents.decode(view.model(kind), latents.POINT_AT[method](paths[kind][0], paths[kind][-1], t)[None])[0]
        for kind in KINDS
    }
    for col, kind in zip(cols, KINDS):
        _, dist = latents.nearest_images(decoded[kind][None], view.train_bank(), k=1)
        with col:
            show_image(decoded[kind], f"{LABELS[kind]} at t = {t:.3f} (released): distance {dist[0, 0]:.4f}", target=96)


scrubber()

# Distance of each decoded step to its nearest training image: near 0 means "looks like the data".
distances = {}
for kind in KINDS:
    _, dist = latents.nearest_images(strips[kind], view.train_bank(), k=1)
    distances[LABELS[kind]] = dist[:, 0]


def set_endpoint(panel: int, item: int, x: float, y: float) -> None:
    if item != PROBE:
        target = "idx_a" if st.session_state.get("click_sets", "A") == "A" else "idx_b"
        st.session_state[target] = item
        st.session_state["click_sets"] = "B" if target == "idx_a" else "A"


latent_map_chart(view, "compare_map", paths=paths, selectable=mode == "picked on the map", on_pick=set_endpoint)
chart_col, _ = st.columns([3, 2])
with chart_col:
    st.plotly_chart(step_distances(distances, "MSE to nearest training image"), key="step_chart")
    mid = steps // 2
    st.caption(
        f"Mean over the path: AE {distances['AE'].mean():.4f}, VAE {distances['VAE'].mean():.4f}; "
        f"at the midpoint: AE {distances['AE'][mid]:.4f}, VAE {distances['VAE'][mid]:.4f}."
    )

# --- export ---------------------------------------------------------------------------------------
both = np.concatenate([strips["ae"], strips["vae"]])
png = images.upscale(images.grid(both, ncols=steps), images.display_scale(both.shape[-1], 64))
frames = [
    images.upscale(
        images.grid(np.stack([strips["ae"][i], strips["vae"][i]]), ncols=2), images.display_scale(both.shape[-1], 96)
    )
    for i in range(steps)
]
export = st.columns(4)
export[0].download_button("Strips as PNG", images.png_bytes(png), "interpolation.png", "image/png", key="dl_png")
export[1].download_button(
    "Animation as GIF (AE | VAE)", images.gif_bytes(frames), "interpolation.gif", "image/gif", key="dl_gif"
)

# --- prior samples --------------------------------------------------------------------------------
st.subheader("Prior samples")
st.caption(
    "The VAE was trained so that N(0, I) codes decode to data. The AE has no prior: we try a Gaussian fitted to its "
    "training codes, and N(0, I) as well, which is the VAE's prior and means nothing in particular to the AE."
)
seed = st.number_input("sample seed", 0, 10_000, 0, key="prior_seed", bind="query-params")
n_samples = 32
train_codes_ae = view.train_codes("ae").mean  # cached, not re-encoded on every rerun
samples = {
    "VAE, z ~ N(0, I)": latents.decode(view.model("vae"), latents.prior_codes(view.latent_dim, n_samples, seed)),
    "AE, z ~ Gaussian fitted to its codes": latents.decode(
        view.model("ae"), latents.prior_codes(view.latent_dim, n_samples, seed, latents.fit_gaussian(train_codes_ae))
    ),
    "AE, z ~ N(0, I)": latents.decode(view.model("ae"), latents.prior_codes(view.latent_dim, n_samples, seed)),
}
cols = st.columns(3)
for col, (title, decoded) in zip(cols, samples.items()):
    _, dist = latents.nearest_images(decoded, view.train_bank(), k=1)
    with col:
        st.image(
            images.upscale(images.grid(decoded, 8), images.display_scale(decoded.shape[-1], 40)),
            caption=f"{title}; mean MSE to nearest training image {dist.mean():.4f}",
            width="stretch",
        )

# --- explanation -----------------------------------------------------------------------------------
with st.expander("What the VAE does differently, with this pair's numbers", expanded=True):
    x_a = test.x[a : a + 1]
    mean_a, std_a = view.model("vae").encode(x_a)
    kl = kl_to_standard_normal(mean_a, std_a)[0].detach().numpy()
    recon = {
        kind: float(((latents.decode(view.model(kind), view.codes[kind].mean[a][None]) - x_a.numpy()) ** 2).mean())
        for kind in KINDS
    }
    st.markdown(
        "The AE maps each image to one point z and learns to decode that point; nothing asks it to decode anything "
        "else, so the space between its codes is untrained.\n\n"
        "The VAE maps each image to a Gaussian q(z|x) = N(μ(x), σ(x)²) and is trained on the evidence lower bound\n\n"
        "ELBO(x) = E_q[log p(x|z)] − KL(q(z|x) ‖ N(0, I)),\n\n"
        "drawing z = μ + σ·ε with ε ~ N(0, I) (the reparameterisation, so gradients flow through μ and σ). Every "
        "training step decodes a point *near* a code, not the code itself, so neighbourhoods of codes are trained "
        "too; the KL term, in closed form ½ Σ_d (μ_d² + σ_d² − 1 − log σ_d²), pulls all codes towards N(0, I) so "
        "that the neighbourhoods overlap."
    )
    st.markdown(
        f"For endpoint A (item {a}): VAE μ = ({', '.join(f'{v:.2f}' for v in mean_a[0][:8].tolist())}), "
        f"σ = ({', '.join(f'{v:.2f}' for v in std_a[0][:8].tolist())}); "
        f"KL per dimension = ({', '.join(f'{v:.2f}' for v in kl[:8])}) nats, total {kl.sum():.2f}. "
        f"Reconstruction MSE from the code: AE {recon['ae']:.4f}, VAE {recon['vae']:.4f}"
        + (
            " — the AE reconstructs better here, as it usually does: it pays no KL price."
            if recon["ae"] < recon["vae"]
            else "."
        )
    )
