"""The Conditional VAE page's two tabs: draw a chosen class; fill in a missing half."""

import numpy as np
import streamlit as st

from explorer import analyses, images, latents
from explorer.ui import urlstate
from explorer.ui.lang import t, words
from explorer.ui.widgets import open_set, show_image, show_strip
from training.conditions import MASKS


def choose_set(choices: dict, sets: list[str], key: str, missing: str):
    """The tab's set chooser: (set id, lead, second, dataset), or None (with a note) when there is none."""
    if not sets:
        st.info(missing)
        return None
    urlstate.seed(key, sets[0], options=sets)
    set_id = st.selectbox(t("dec_model"), sets, key=key)
    return (set_id, *open_set(choices[set_id]))


def draw_class(set_id: str, cvae, regression, data) -> None:
    """32 samples of a chosen class, style sliders with the class fixed, the same z under every class."""
    model, n_classes = cvae.model, cvae.model.config.n_classes
    names = data.class_names or [str(i) for i in range(n_classes)]
    cols = st.columns([1, 1, 2])
    urlstate.seed("cond_class", 0, options=list(range(len(names))))
    label = cols[0].selectbox(t("cond_class"), list(range(len(names))), format_func=names.__getitem__, key="cond_class")
    urlstate.seed("cond_seed", 0)
    seed = cols[1].number_input(t("lab_seed"), *urlstate.bounds("cond_seed"), key="cond_seed")
    samples, mean_image = analyses.class_samples(model, regression.model, label, seed)
    left, right = st.columns([3, 1])
    picture = images.upscale(images.grid(samples, 8), images.display_scale(samples.shape[-1], 40))
    left.image(picture, caption=t("cond_samples", n=len(samples), name=names[label]), width=picture.shape[1])
    with right:
        show_image(mean_image, t("cond_regression_one", name=names[label]), target=120)

    st.markdown(t("cond_style"))
    slider_cols = st.columns(min(model.latent_dim, 4))
    code = np.zeros(model.latent_dim, dtype=np.float32)
    for d in range(min(model.latent_dim, latents.MAX_SLIDERS)):
        urlstate.seed(f"cz{d}", 0.0)
        code[d] = slider_cols[d % len(slider_cols)].slider(f"z{d}", *urlstate.bounds(f"cz{d}"), step=0.05, key=f"cz{d}")
    chosen, every = analyses.under_every_class(model, code, label)
    c1, c2 = st.columns([1, 3])
    with c1:
        show_image(chosen, t("cond_at_z", name=names[label]), target=140)
    with c2:
        show_strip(every, [names[i] for i in range(n_classes)], target=48)
    m = cvae.metrics.get("labels")
    if m:
        eval_cmd = f"`python -m training eval checkpoints/{set_id}`"
        st.caption(f"{analyses.label_summary(m, t=t)} ({eval_cmd}).", help=t("help_variance"))


def fill_half(set_id: str, cvae, regression, data) -> None:
    """A test image's visible half, the regression's completion and n CVAE completions, with the numbers."""
    test = data.test
    cols = st.columns(4)
    urlstate.seed("cond_item", 0, 0, len(test) - 1)
    urlstate.seed("cond_n", 8)
    urlstate.seed("cond_fill_seed", 0)
    urlstate.seed("cond_mask", MASKS[0], options=list(MASKS))
    item = cols[0].number_input(t("cond_test_image"), 0, len(test) - 1, key="cond_item")
    mask_kind = cols[1].radio(
        t("cond_visible"), MASKS, format_func=lambda m, t=words(): t("mask_" + m), horizontal=True, key="cond_mask"
    )
    n = cols[2].slider(t("cond_completions"), *urlstate.bounds("cond_n"), key="cond_n")
    seed = cols[3].number_input(t("lab_seed"), *urlstate.bounds("cond_fill_seed"), key="cond_fill_seed")
    x = test.x[item : item + 1]
    done = analyses.complete_half(cvae.model, regression.model, x, mask_kind, n, seed)
    reg = t("cond_regression", mse=done.regression_mse, sharpness=done.regression_sharpness)
    given = t("cond_given", half=t("mask_" + mask_kind))
    shown = ((x[0].numpy(), t("cond_truth")), (done.given, given), (done.regression, reg))
    for col, (image, caption) in zip(st.columns(4), shown):
        with col:
            show_image(image, caption, target=96)
    told = analyses.metric_help("mse", "diversity", "sharpness", t=t)
    st.markdown(t("cond_best_first", n=n))
    show_strip(done.completions, [f"{d:.4f}" for d in done.mse], target=72)
    numbers = dict(reg=done.regression_mse, best=done.mse.min(), mean=done.mse.mean(), diversity=done.diversity)
    sharp = dict(reg_sharp=done.regression_sharpness, sharp=done.sharpness.mean())
    st.caption(t("cond_this_image", **numbers, **sharp), help=told)
    m = cvae.metrics.get("completion")
    if m:
        halves = len(m.get("per_mask") or MASKS)
        eval_cmd = f"`python -m training eval checkpoints/{set_id}`"
        st.markdown(t("cond_measured", n=m["n_images"], halves=halves, cmd=eval_cmd), help=told)
        st.dataframe(analyses.completion_table(m, t=t), hide_index=True)
