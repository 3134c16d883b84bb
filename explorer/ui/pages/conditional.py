"""Conditional VAE: draw a chosen class; fill in a missing half, sharp and varied, beside the
regression that paints the blurry average."""

import numpy as np
import streamlit as st
import torch

from explorer import images
from explorer.ui import cache
from explorer.ui.widgets import show_image, show_strip
from training.conditions import MASKS, half_condition, half_mask, label_condition
from training.errors import LatentExplorerError
from training.metrics import masked_mse, sharpness
from training.store import find_sets

st.title("Conditional VAE")
st.caption(
    "A CVAE encodes q(z | x, c) and decodes p(x | z, c) with the prior N(0, I) whatever the condition c. "
    "Beside it, a regression with the same decoder body maps c straight to an image."
)
choices = find_sets("conditional")


def load(set_id: str):
    path, stamp = str(choices[set_id].path), choices[set_id].stamp
    try:
        models, data = cache.model_set(path, stamp), cache.dataset(path, stamp)
    except (LatentExplorerError, OSError) as exc:
        st.error(f"Could not open {set_id}: {exc}")
        st.stop()
    return models["cvae"], models["regression"], data


label_sets = [s for s, info in choices.items() if info.condition == "label"]
half_sets = [s for s, info in choices.items() if info.condition == "half"]
if not choices:
    st.info(
        "No conditional models yet. Train one: `python -m training train --dataset digits --model cvae "
        "--condition half --latent-dim 4 --beta 0.5 --epochs 150 --out runs/digits-half` (or `make defaults`)."
    )
    st.stop()

tab_class, tab_fill = st.tabs(["Draw a chosen class", "Fill in a missing half"])

# --- draw a chosen class -------------------------------------------------------------------------------
with tab_class:
    if not label_sets:
        st.info("No label-conditioned CVAE: train one with `--model cvae --condition label`.")
    else:
        set_id = st.selectbox("Model", label_sets, key="cond_label_set", bind="query-params")
        cvae, regression, data = load(set_id)
        model = cvae.model
        names = data.class_names or [str(i) for i in range(model.config.n_classes)]
        cols = st.columns([1, 1, 2])
        label = cols[0].selectbox(
            "Class", list(range(len(names))), format_func=lambda i: names[i], key="cond_class", bind="query-params"
        )
        seed = cols[1].number_input("Seed", 0, 10_000, 0, key="cond_seed", bind="query-params")
        n_classes = model.config.n_classes
        with torch.no_grad():
            z = torch.from_numpy(
                np.random.default_rng(int(seed)).standard_normal((32, model.latent_dim)).astype(np.float32)
            )
            samples = model.decode(z, label_condition(torch.full((32,), label), n_classes)).numpy()
            mean_image = regression.model.decode(label_condition(torch.tensor([label]), n_classes)).numpy()
        left, right = st.columns([3, 1])
        with left:
            picture = images.upscale(images.grid(samples, 8), images.display_scale(samples.shape[-1], 40))
            st.image(picture, caption=f"32 CVAE samples of class {names[label]}, z ~ N(0, I)", width=picture.shape[1])
        with right:
            show_image(mean_image[0], f"regression: class {names[label]}, the one image it can draw", target=120)

        st.markdown(
            "**Style sliders**: move z with the class fixed; the row below decodes the same z under every class."
        )
        slider_cols = st.columns(min(model.latent_dim, 4))
        code = np.zeros(model.latent_dim, dtype=np.float32)
        for d in range(min(model.latent_dim, 8)):
            code[d] = slider_cols[d % len(slider_cols)].slider(
                f"z{d}", -3.0, 3.0, 0.0, 0.05, key=f"cz{d}", bind="query-params"
            )
        with torch.no_grad():
            zc = torch.from_numpy(code)[None]
            chosen = model.decode(zc, label_condition(torch.tensor([label]), n_classes)).numpy()[0]
            every = model.decode(zc.repeat(n_classes, 1), label_condition(torch.arange(n_classes), n_classes)).numpy()
        c1, c2 = st.columns([1, 3])
        with c1:
            show_image(chosen, f"class {names[label]} at this z", target=140)
        with c2:
            show_strip(every, [names[i] for i in range(n_classes)], target=48)
        m = cvae.metrics.get("labels")
        if m:
            st.caption(
                f"Measured over 16 z and {m['n_classes']} classes: variance across z for a fixed class {m['within_class_variance']:.4f}, "
                f"across classes for a fixed z {m['across_class_variance']:.4f} (`python -m training eval checkpoints/{set_id}`)."
            )

# --- fill in a missing half ---------------------------------------------------------------------------
with tab_fill:
    if not half_sets:
        st.info("No half-image CVAE: train one with `--model cvae --condition half`.")
    else:
        set_id = st.selectbox("Model", half_sets, key="cond_half_set", bind="query-params")
        cvae, regression, data = load(set_id)
        test = data.test
        cols = st.columns(4)
        item = cols[0].number_input("Test image", 0, len(test) - 1, 0, key="cond_item", bind="query-params")
        mask_kind = cols[1].radio("Visible half", MASKS, horizontal=True, key="cond_mask", bind="query-params")
        n = cols[2].slider("CVAE completions", 2, 16, 8, key="cond_n", bind="query-params")
        seed = cols[3].number_input("Seed", 0, 10_000, 0, key="cond_fill_seed", bind="query-params")
        x = test.x[item : item + 1]
        mask = half_mask(mask_kind, tuple(x.shape[1:]))[None]
        c = half_condition(x, mask)
        with torch.no_grad():
            z = torch.from_numpy(
                np.random.default_rng(int(seed)).standard_normal((n, cvae.model.latent_dim)).astype(np.float32)
            )
            predictions = cvae.model.decode(z, c.repeat(n, 1))
            guess = regression.model.decode(c)
        missing = 1 - mask

        def complete(pred: torch.Tensor) -> torch.Tensor:
            return x * mask + pred * missing  # the given half stays as given

        def distance(pred: torch.Tensor) -> np.ndarray:
            return masked_mse(pred, x, missing).numpy()

        shown_input = (x * mask + 0.35 * missing)[0].numpy()
        top = st.columns(4)
        with top[0]:
            show_image(x[0].numpy(), "the truth", target=96)
        with top[1]:
            show_image(shown_input, f"given: the {mask_kind} half", target=96)
        with top[2]:
            show_image(
                complete(guess)[0].numpy(),
                f"regression: MSE {distance(guess)[0]:.4f}, sharpness {float(sharpness(guess * missing)[0]):.3f}",
                target=96,
            )
        dist = distance(predictions)
        sharp = sharpness(predictions * missing).numpy()
        order = np.argsort(dist)
        st.markdown(f"**{n} CVAE completions**, z ~ N(0, I), best first (MSE to the truth on the missing half):")
        show_strip(complete(predictions)[order].numpy(), [f"{dist[i]:.4f}" for i in order], target=72)
        pairwise = [
            float(((predictions[i] - predictions[j]) ** 2 * missing[0]).sum() / missing.sum())
            for i in range(n)
            for j in range(i + 1, n)
        ]
        st.caption(
            f"This image: regression {distance(guess)[0]:.4f}; CVAE best {dist.min():.4f}, mean {dist.mean():.4f}; "
            f"completions differ by {np.mean(pairwise):.4f} on average; sharpness regression "
            f"{float(sharpness(guess * missing)[0]):.3f}, CVAE {sharp.mean():.3f}."
        )
        m = cvae.metrics.get("completion")
        if m:
            st.markdown(
                f"**Measured on {m['n_images']} test images × 4 halves** (`python -m training eval checkpoints/{set_id}`)"
            )
            st.dataframe(
                [
                    {
                        "": "MSE to the truth",
                        "regression": round(m["regression_error"], 4),
                        "CVAE": f"best of {m['n_samples']} {m['cvae_best_of_n_error']:.4f}, mean {m['cvae_mean_error']:.4f}",
                    },
                    {"": "diversity (pairwise MSE)", "regression": 0.0, "CVAE": f"{m['cvae_diversity']:.4f}"},
                    {
                        "": f"sharpness (truth {m['sharpness_truth']:.3f})",
                        "regression": round(m["sharpness_regression"], 4),
                        "CVAE": f"{m['sharpness_cvae']:.4f}",
                    },
                    {
                        "": "MSE to the mean of the CVAE's samples",
                        "regression": round(m["regression_to_sample_mean"], 4),
                        "CVAE": f"one sample: {m['sample_to_sample_mean']:.4f}",
                    },
                ],
                hide_index=True,
            )
