"""Plotly figures as pure functions: arrays in, go.Figure out. Nothing here renders.

Figures take their words as an argument: t(key, **values) -> text from the catalogues
(explorer/i18n), English unless the page passes its reader's language (explorer.ui.lang.t).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative, sample_colorscale
from plotly.subplots import make_subplots

from explorer import images
from explorer.i18n import ENGLISH, Words
from training.kinds import KINDS

MODEL_COLOURS = {k.label: k.colour for k in KINDS.values()}  # by the label a figure shows
CLASS_COLOURS = qualitative.D3 + qualitative.Set3
PHASE_SCALE = "mrybm"  # cyclic, like the phase it shows
PROBE = -1  # item index of a pick in empty space
# WebGL traces only for large sets: without a GPU (headless, many laptops' browsers in software GL)
# each WebGL redraw stalled the page for 0.3-1 s after a slider move (bench/); SVG redraws in ms.
WEBGL_ABOVE = 5000
# Plotly's toolbar (modebar) floats over the top ~30 px of a chart: titles and top legends start below it.
MODEBAR_CLEARANCE = 60
TITLED_MARGIN = dict(l=10, r=10, t=MODEBAR_CLEARANCE, b=10)
UNDER_AXIS_LEGEND = dict(orientation="h", yanchor="top", y=-0.25, x=0)  # below the x axis's title, not over it
# Side-by-side panels: plotly's default gap puts the right panel's y title over the left panel at 800 px.
Y_TITLE_STANDOFF = 3
RUG_MARKS = 600  # a rug's marks across its axis: about one per pixel of a wide chart


def scatter(n_points: int, **kwargs):
    return (go.Scattergl if n_points > WEBGL_ABOVE else go.Scatter)(**kwargs)


@dataclass
class Colouring:
    values: np.ndarray | None  # (N,) class labels (int) or a continuous factor
    kind: str  # "label", "factor" or "none"
    title: str = ""
    names: list[str] | None = None  # class names for labels


@dataclass
class MapPanel:
    title: str
    points: np.ndarray  # (N, 2) projected codes
    std: np.ndarray | None = None  # (N, 2) posterior stds, drawn as +-1 sigma ellipses
    path: np.ndarray | None = None  # (S, 2) an interpolation path
    marker: np.ndarray | None = None  # (2,) the current point
    probe_box: tuple[np.ndarray, np.ndarray] | None = None  # (lo, hi): pickable empty space
    axis_titles: tuple[str, str] = ("z0", "z1")
    colour: str = "#333"  # the path's markers: the model's colour (MODEL_COLOURS)


def ellipse_lines(centres: np.ndarray, radii: np.ndarray, segments: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """Axis-aligned ellipses as one polyline with NaN breaks (one trace draws them all)."""
    t = np.linspace(0, 2 * np.pi, segments + 1)
    xs = centres[:, :1] + radii[:, :1] * np.cos(t)[None]  # (N, segments+1)
    ys = centres[:, 1:] + radii[:, 1:] * np.sin(t)[None]
    gap = np.full((len(centres), 1), np.nan)
    return np.hstack([xs, gap]).ravel(), np.hstack([ys, gap]).ravel()


def _probe_trace(panel: MapPanel, p_idx: int, t: Words):
    """Two invisible corners that keep the probe box (empty space around the codes) on the map; a click
    there is turned into a location by the page's pick layer (explorer/ui/map_pick.js), not by markers."""
    lo, hi = panel.probe_box
    return go.Scatter(
        x=[lo[0], hi[0]],
        y=[lo[1], hi[1]],
        mode="markers",
        name=t("fig_empty_space"),
        marker=dict(size=1, opacity=0.0),
        showlegend=False,
        hoverinfo="skip",
    )


def _class_traces(panel: MapPanel, p_idx: int, colouring: Colouring, t: Words) -> list:
    """One trace per class, so the legend can show and hide a class."""
    n, index, traces = len(panel.points), np.arange(len(panel.points)), []
    for label in np.unique(colouring.values):
        sel = colouring.values == label
        name = colouring.names[int(label)] if colouring.names else str(label)
        traces.append(
            scatter(
                n,
                x=panel.points[sel, 0],
                y=panel.points[sel, 1],
                mode="markers",
                name=name,
                legendgroup=name,
                showlegend=p_idx == 0,
                marker=dict(size=5, color=CLASS_COLOURS[int(label) % len(CLASS_COLOURS)], opacity=0.8),
                customdata=np.column_stack([np.full(sel.sum(), p_idx), index[sel]]),
                hovertemplate=f"{name} · {t('fig_item')} %{{customdata[1]}}<extra></extra>",
            )
        )
    return traces


def _code_trace(panel: MapPanel, p_idx: int, colouring: Colouring, t: Words):
    """All codes in one trace, on the shared continuous colour axis when coloured by a factor."""
    n = len(panel.points)
    colour = colouring.values if colouring.kind == "factor" else None
    return scatter(
        n,
        x=panel.points[:, 0],
        y=panel.points[:, 1],
        mode="markers",
        name=t("fig_codes"),
        showlegend=False,
        marker=dict(size=5, color=colour, coloraxis="coloraxis" if colour is not None else None, opacity=0.85),
        customdata=np.column_stack([np.full(n, p_idx), np.arange(n)]),
        hovertemplate=(
            f"{t('fig_item')} %{{customdata[1]}} · {colouring.title} %{{marker.color:.3f}}<extra></extra>"
            if colour is not None
            else f"{t('fig_item')} %{{customdata[1]}}<extra></extra>"
        ),
    )


def _ellipse_trace(panel: MapPanel, first: bool, max_ellipses: int, t: Words):
    n = len(panel.points)
    take = np.linspace(0, n - 1, min(n, max_ellipses)).astype(int)
    ex, ey = ellipse_lines(panel.points[take], panel.std[take])
    return go.Scatter(
        x=ex,
        y=ey,
        mode="lines",
        name=t("fig_posterior"),
        legendgroup="ellipses",
        showlegend=first,
        line=dict(width=0.8, color="rgba(60,60,60,0.45)"),
        hoverinfo="skip",
    )


def _path_trace(panel: MapPanel, first: bool, t: Words):
    return go.Scatter(
        x=panel.path[:, 0],
        y=panel.path[:, 1],
        mode="lines+markers",
        name=t("fig_interpolation"),
        legendgroup="path",
        showlegend=first,
        line=dict(color="black", width=2.5),
        marker=dict(size=7, color=panel.colour, line=dict(width=1, color="white")),
        hovertemplate=f"{t('fig_step')} %{{pointNumber}}<extra></extra>",
    )


def _marker_trace(panel: MapPanel, first: bool, t: Words):
    return go.Scatter(
        x=[panel.marker[0]],
        y=[panel.marker[1]],
        mode="markers",
        name=t("fig_current"),
        legendgroup="marker",
        showlegend=first,
        marker=dict(symbol="star", size=18, color="gold", line=dict(width=1.5, color="black")),
        hoverinfo="skip",
    )


def _panel_traces(panel: MapPanel, p_idx: int, colouring: Colouring, max_ellipses: int, t: Words) -> list:
    """A panel's traces, bottom to top: empty-space corners, codes, ellipses, path, current point."""
    first = p_idx == 0
    traces = [_probe_trace(panel, p_idx, t)] if panel.probe_box is not None else []
    if colouring.kind == "label":
        traces += _class_traces(panel, p_idx, colouring, t)
    else:
        traces.append(_code_trace(panel, p_idx, colouring, t))
    if panel.std is not None:
        traces.append(_ellipse_trace(panel, first, max_ellipses, t))
    if panel.path is not None:
        traces.append(_path_trace(panel, first, t))
    if panel.marker is not None:
        traces.append(_marker_trace(panel, first, t))
    return traces


def latent_maps(
    panels: list[MapPanel], colouring: Colouring, height: int = 460, max_ellipses: int = 60, t: Words = ENGLISH
) -> go.Figure:
    """Side-by-side latent maps with one shared legend / colour bar.

    Every code's marker carries customdata [panel, item], so a click or selection says which map and
    which test item was picked.
    """
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[p.title for p in panels], horizontal_spacing=0.12)
    for p_idx, panel in enumerate(panels):
        col = p_idx + 1
        for trace in _panel_traces(panel, p_idx, colouring, max_ellipses, t):
            fig.add_trace(trace, row=1, col=col)
        fig.update_xaxes(title_text=panel.axis_titles[0], row=1, col=col, zeroline=False)
        fig.update_yaxes(title_text=panel.axis_titles[1], row=1, col=col, zeroline=False)
    if colouring.kind == "factor":
        fig.update_layout(coloraxis=dict(colorscale=PHASE_SCALE, colorbar=dict(title=colouring.title), cmin=0, cmax=1))
    fig.update_layout(
        height=height,
        margin=dict(l=10, r=10, t=40, b=10),
        legend=dict(itemsizing="constant"),
        dragmode="pan",
        clickmode="event+select",
        hovermode="closest",
    )
    return _finish_map(fig, colouring)


def _finish_map(fig: go.Figure, colouring: Colouring) -> go.Figure:
    """Titles clear of the toolbar; one "±1σ posterior" legend entry whichever panel has the ellipses
    (only the VAE's has stds), shown even when alone (plotly hides a one-entry legend); beside a colour
    bar the legends go below, where the two cannot overlap, the ellipses' under their own panel."""
    fig.update_layout(margin=dict(t=MODEBAR_CLEARANCE))
    fig.update_yaxes(title_standoff=Y_TITLE_STANDOFF)
    ellipses = [t for t in fig.data if t.legendgroup == "ellipses"]
    if ellipses:
        ellipses[0].showlegend = True
        fig.update_layout(showlegend=True)
    if colouring.kind == "factor":
        fig.update_layout(legend=dict(orientation="h", y=-0.12, yanchor="top", x=0))
        if ellipses:  # its own legend under the panel that has the ellipses (the VAE's), not the first one
            axis = fig.layout["xaxis" + ellipses[0].xaxis[1:]]
            ellipses[0].legend = "legend2"
            fig.update_layout(legend2=dict(orientation="h", y=-0.12, yanchor="top", x=axis.domain[0]))
    return fig


def point_colours(colouring: Colouring, take: np.ndarray) -> list[str]:
    """CSS colours of the items take, as the latent map colours them (for the canvas maps)."""
    if colouring.kind == "label":
        return [CLASS_COLOURS[int(v) % len(CLASS_COLOURS)] for v in colouring.values[take]]
    if colouring.kind == "factor":
        return sample_colorscale(PHASE_SCALE, list(np.clip(colouring.values[take], 0, 1)))
    return ["#555"] * len(take)


def step_distances(distances: dict[str, np.ndarray], ylabel: str, t: Words = ENGLISH) -> go.Figure:
    """One line per model: a score at each interpolation step."""
    fig = go.Figure()
    for name, values in distances.items():
        fig.add_trace(
            go.Scatter(
                x=np.arange(len(values)),
                y=values,
                mode="lines+markers",
                name=name,
                line=dict(color=MODEL_COLOURS.get(name, None)),
            )
        )
    fig.update_layout(
        height=280,
        margin=TITLED_MARGIN,
        xaxis_title=t("fig_step"),
        yaxis_title=ylabel,
        legend=dict(orientation="h", y=1.02, yanchor="bottom"),  # above the plot, below the toolbar
    )
    return fig


def kl_bars(kl_per_dim: np.ndarray, threshold: float | None = None, t: Words = ENGLISH) -> go.Figure:
    fig = go.Figure(
        go.Bar(x=[f"z{i}" for i in range(len(kl_per_dim))], y=kl_per_dim, marker_color=MODEL_COLOURS["VAE"])
    )
    if threshold is not None:
        fig.add_hline(y=threshold, line_dash="dot")
    fig.update_layout(height=220, margin=dict(l=10, r=10, t=10, b=10), yaxis_title=t("fig_kl_nats"))
    return fig


@dataclass
class HolePanel:
    title: str
    distances: np.ndarray  # (n, n) manifold distance of each grid cell's decode
    xs: np.ndarray
    ys: np.ndarray
    codes: np.ndarray | None = None  # (N, 2) codes on the plane, overlaid
    path: np.ndarray | None = None  # (S, 2) the interpolation on the plane
    axis_titles: tuple[str, str] = ("z0", "z1")
    path_name: str = ""  # the legend's name of the path, e.g. its endpoints ("": the word for interpolation)


def hole_maps(
    panels: list[HolePanel], colour_title: str, zmax: float | None = None, height: int = 430, t: Words = ENGLISH
) -> go.Figure:
    """Heatmaps of manifold distance over latent planes, one shared colour scale; codes and paths on top."""
    # Wide spacing: the right panel's y title and tick labels stay clear of the left panel at 800 px.
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[p.title for p in panels], horizontal_spacing=0.15)
    if zmax is None:
        zmax = float(np.percentile(np.concatenate([p.distances.ravel() for p in panels]), 98))
    for i, panel in enumerate(panels):
        col = i + 1
        fig.add_trace(
            go.Heatmap(
                x=panel.xs,
                y=panel.ys,
                z=np.asarray(panel.distances, np.float32),  # half the bytes of float64; hover shows 4 digits
                coloraxis="coloraxis",
                hovertemplate=f"(%{{x:.2f}}, %{{y:.2f}}) {t('fig_distance')} %{{z:.4f}}<extra></extra>",
            ),
            row=1,
            col=col,
        )
        if panel.codes is not None:
            fig.add_trace(
                scatter(
                    len(panel.codes),
                    x=panel.codes[:, 0],
                    y=panel.codes[:, 1],
                    mode="markers",
                    name=t("fig_test_codes"),
                    showlegend=i == 0,
                    legendgroup="codes",
                    # a dark rim: the white dot shows on bright cells and as a legend swatch on white
                    marker=dict(size=4, color="white", opacity=0.8, line=dict(width=0.6, color="#333")),
                    hoverinfo="skip",
                ),
                row=1,
                col=col,
            )
        if panel.path is not None:
            fig.add_trace(
                go.Scatter(
                    x=panel.path[:, 0],
                    y=panel.path[:, 1],
                    mode="lines+markers",
                    name=panel.path_name or t("fig_interpolation"),
                    showlegend=i == 0,
                    legendgroup="path",
                    line=dict(color="red", width=2.5),
                    marker=dict(size=6, color="red"),
                    hoverinfo="skip",
                ),
                row=1,
                col=col,
            )
        fig.update_xaxes(title_text=panel.axis_titles[0], row=1, col=col)
        fig.update_yaxes(title_text=panel.axis_titles[1], row=1, col=col, title_standoff=Y_TITLE_STANDOFF)
    fig.update_layout(
        height=height,
        margin=dict(l=10, r=10, t=MODEBAR_CLEARANCE, b=10),
        coloraxis=dict(colorscale="Viridis", cmin=0, cmax=zmax, colorbar=dict(title=colour_title, thickness=14)),
        legend=dict(orientation="h", y=-0.18, itemsizing="constant"),
    )
    return fig


def training_curves(history: dict[str, list[dict]], t: Words = ENGLISH) -> go.Figure:
    """Per-epoch train (solid) and test (dotted) losses of each model: reconstruction, KL, total."""
    titles = [t("fig_reconstruction"), "KL", t("fig_total")]
    fig = make_subplots(rows=1, cols=3, subplot_titles=titles)
    for kind, epochs in history.items():
        if not epochs:
            continue
        x = [h["epoch"] for h in epochs]
        for col, term in enumerate(("reconstruction", "kl", "total"), start=1):
            for split, dash in (("train", "solid"), ("test", "dot")):
                trace = go.Scatter(
                    x=x,
                    y=[h[f"{split}_{term}"] for h in epochs],
                    mode="lines",
                    name=f"{KINDS[kind].label} {t('fig_' + split)}",
                    legendgroup=f"{kind}{split}",
                    showlegend=col == 1,
                    line=dict(color=KINDS[kind].colour, dash=dash),
                )
                fig.add_trace(trace, row=1, col=col)
    fig.update_layout(height=300, margin=TITLED_MARGIN, xaxis_title=t("fig_epoch"))
    return fig


def equal_elbo_levels(totals: list[float], n: int = 5) -> np.ndarray:
    """Values of R + D (= -ELBO) for the lines of equal ELBO: round steps spanning totals, about n lines."""
    lo, hi = min(totals), max(totals)
    raw = max(hi - lo, 1e-6) / (n - 1)
    step = 10 ** np.floor(np.log10(raw))
    step *= next(m for m in (1, 2, 5, 10) if m * step >= raw)
    return np.arange(np.floor(lo / step) * step, hi + step, step)


def rate_distortion(curves: dict[str, list], t: Words = ENGLISH, height: int = 460) -> go.Figure:
    """The rate-distortion plane (Alemi et al. 2018): per curve (one setting) and beta, the mean rate and
    distortion over seeds with their intervals, every seed faintly, active units beside each point, the
    beta = 1 point starred, and dashed lines of equal ELBO (R + D = const, slope -1).

    curves: name -> training.sweep.BetaSummary list (rate and distortion as (mean, low, high))."""
    fig = go.Figure()
    summaries = [s for found in curves.values() for s in found]
    seeds = [rd for s in summaries for rd in s.per_seed]
    x_hi = max(max(r for r, _ in seeds), max(s.rate.high for s in summaries)) * 1.08 + 1e-3
    levels = equal_elbo_levels([r + d for r, d in seeds])
    xs = np.array([0.0, x_hi])
    fig.add_trace(
        go.Scatter(
            x=np.concatenate([np.append(xs, np.nan) for _ in levels]),
            y=np.concatenate([np.append(c - xs, np.nan) for c in levels]),
            mode="lines",
            line=dict(color="#999", width=1, dash="dash"),
            name=t("fig_rd_equal_elbo"),
            hoverinfo="skip",
        )
    )
    d_all = [d for _, d in seeds] + [v for s in summaries for v in (s.distortion.low, s.distortion.high)]
    pad = (max(d_all) - min(d_all)) * 0.08 + 1e-3
    y_lo, y_hi = min(d_all) - pad, max(d_all) + pad
    for c in levels:  # each line's ELBO at its low end: below the curve of points lies nothing to cover
        x, y = (c - y_lo, y_lo) if c - y_lo <= x_hi else (x_hi, c - x_hi)
        if 0 <= x <= x_hi and y_lo <= y <= y_hi:
            fig.add_annotation(
                x=x,
                y=y,
                text=f"{-c:g}",
                showarrow=False,
                xanchor="right",
                yanchor="bottom",
                font=dict(size=10, color="#777"),
            )
    for i, (name, found) in enumerate(curves.items()):
        colour = CLASS_COLOURS[i % len(CLASS_COLOURS)]
        group = f"curve{i}"
        fig.add_trace(
            go.Scatter(
                x=[r for s in found for r, _ in s.per_seed],
                y=[d for s in found for _, d in s.per_seed],
                mode="markers",
                marker=dict(size=5, color=colour, opacity=0.35),
                name=t("fig_rd_seeds"),
                legendgroup=group,
                showlegend=False,
                hovertext=[
                    t("fig_rd_seed_hover", run=run, beta=f"{s.beta:g}", rate=f"{r:.2f}", distortion=f"{d:.2f}")
                    for s in found
                    for run, (r, d) in zip(s.runs, s.per_seed)
                ],
                hovertemplate="%{hovertext}<extra></extra>",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=[s.rate.mean for s in found],
                y=[s.distortion.mean for s in found],
                mode="markers+lines+text",
                marker=dict(size=9, color=colour),
                line=dict(color=colour, width=1.5),
                error_x=interval_bars([s.rate for s in found], colour),
                error_y=interval_bars([s.distortion for s in found], colour),
                text=[
                    t("fig_rd_label", beta=f"{s.beta:g}", active=f"{s.active_units[0]:.2g}", dim=s.latent_dim)
                    for s in found
                ],
                textposition="top right",
                textfont=dict(size=10),
                name=name,
                legendgroup=group,
                hovertext=[_rd_hover(s, t) for s in found],
                hovertemplate="%{hovertext}<extra></extra>",
            )
        )
    ones = [s for s in summaries if s.beta == 1.0]
    if ones:
        fig.add_trace(
            go.Scatter(
                x=[s.rate.mean for s in ones],
                y=[s.distortion.mean for s in ones],
                mode="markers",
                marker=dict(symbol="star", size=17, color="rgba(0,0,0,0)", line=dict(color="#111", width=1.5)),
                name=t("fig_rd_beta_one"),
                hoverinfo="skip",
            )
        )
    fig.update_layout(
        height=height,
        margin=TITLED_MARGIN,
        xaxis=dict(title=t("fig_rate"), range=[0, x_hi], rangemode="tozero"),
        yaxis=dict(title=t("fig_distortion"), range=[y_lo, y_hi]),
        legend=dict(orientation="h", yanchor="top", y=-0.18, x=0),
    )
    return fig


def interval_bars(intervals: list, colour: str) -> dict:
    """Plotly error bars from (mean, low, high) intervals (asymmetric)."""
    return dict(
        type="data",
        symmetric=False,
        array=[high - mean for mean, _, high in intervals],
        arrayminus=[mean - low for mean, low, _ in intervals],
        thickness=1,
        color=colour,
    )


def _rd_hover(s, t: Words) -> str:
    return t(
        "fig_rd_hover",
        beta=f"{s.beta:g}",
        seeds=s.seeds,
        rate=f"{s.rate.mean:.2f} ({s.rate.low:.2f}–{s.rate.high:.2f})",
        distortion=f"{s.distortion.mean:.2f} ({s.distortion.low:.2f}–{s.distortion.high:.2f})",
        elbo=f"{-(s.rate.mean + s.distortion.mean):.2f}",
        active=f"{s.active_units[0]:.3g} ({s.active_units[1]}–{s.active_units[2]})",
        dim=s.latent_dim,
    )


def class_map_png(
    points: np.ndarray, labels: np.ndarray, names: list[str] | None, title: str, size: tuple[float, float] = (6, 5)
) -> bytes:
    """A latent map coloured by class with its legend, as PNG bytes (the export of the plotly map).

    points (N, 2), labels (N,) ints. matplotlib's object API (no pyplot): safe in a server thread.
    """
    import io

    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=120)
    ax = fig.add_subplot()
    for label in np.unique(labels):
        sel = labels == label
        name = names[int(label)] if names else str(label)
        ax.scatter(*points[sel].T, s=6, alpha=0.8, color=CLASS_COLOURS[int(label) % len(CLASS_COLOURS)], label=name)
    ax.set(title=title, xlabel="z0", ylabel="z1")
    ax.legend(markerscale=2.5, fontsize="small", loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


# --- exact inference (the Inference page) ---------------------------------------------------------


def covariance_ellipse(mean: np.ndarray, cov: np.ndarray, k: float, segments: int = 60) -> np.ndarray:
    """The k-sigma contour of N(mean, cov): (segments + 1, 2) points, tilted with the covariance."""
    t = np.linspace(0, 2 * np.pi, segments + 1)
    return mean + k * np.stack([np.cos(t), np.sin(t)], 1) @ np.linalg.cholesky(cov).T


def add_ellipses(fig: go.Figure, mean: np.ndarray, cov: np.ndarray, name: str, colour: str) -> None:
    """A Gaussian's 1/2/3-sigma ellipses, one legend entry."""
    for k in (1, 2, 3):
        e = covariance_ellipse(mean, cov, k)
        fig.add_scatter(
            x=e[:, 0],
            y=e[:, 1],
            mode="lines",
            line={"color": colour, "width": 2.5 - 0.5 * k},
            name=name,
            legendgroup=name,
            showlegend=k == 1,
            hoverinfo="skip",
        )


def posterior_map(r, ae_code: np.ndarray | None = None, height: int = 480, t: Words = ENGLISH) -> go.Figure:
    """Exact p(z|x) as a heat map; q's 1/2/3-sigma ellipses, q*'s, the prior's contours, the AE's code.

    r: explorer.inference.ImageInference."""
    n = r.density.shape[0]
    fig = go.Figure(
        go.Heatmap(
            x=np.linspace(r.lo[0], r.hi[0], n),
            y=np.linspace(r.lo[1], r.hi[1], n),
            z=np.asarray(r.density, np.float32),  # half the bytes of float64; hover shows 3 digits
            colorscale="Greys",
            colorbar={"title": "p(z|x)"},
            hovertemplate="z0 %{x:.3f}<br>z1 %{y:.3f}<br>p(z|x) %{z:.3g}<extra></extra>",
        )
    )
    add_ellipses(fig, r.q_mean, r.q_cov, t("fig_q"), MODEL_COLOURS["VAE"])
    add_ellipses(fig, r.star_mean, r.star_cov, t("fig_q_star"), "#ff7f0e")
    for k in (1, 2, 3):
        e = covariance_ellipse(np.zeros(2), np.eye(2), k)
        fig.add_scatter(
            x=e[:, 0],
            y=e[:, 1],
            mode="lines",
            line={"color": "#2ca02c", "dash": "dot", "width": 1},
            name=t("fig_prior"),
            legendgroup="prior",
            showlegend=k == 1,
            hoverinfo="skip",
        )
    if ae_code is not None:
        # The AE's code lives in its own latent space and can lie far off this grid (-18.9, 11.4): then it is
        # drawn at the grid's edge, in its direction, as an open arrowhead; its value is in the hover text.
        at = np.clip(ae_code, r.lo, r.hi)
        outside = not np.array_equal(at, ae_code)
        fig.add_scatter(
            x=[at[0]],
            y=[at[1]],
            mode="markers",
            name=t("fig_ae_code_off") if outside else t("fig_ae_code"),
            marker={
                "color": MODEL_COLOURS["AE"],
                "symbol": "arrow-wide-open" if outside else "x",
                "angle": float(np.degrees(np.arctan2(ae_code[0] - at[0], ae_code[1] - at[1]))) if outside else 0,
                "size": 13 if outside else 11,
            },
            hovertemplate=f"AE ({ae_code[0]:.2f}, {ae_code[1]:.2f})<extra></extra>",
        )
    fig.update_xaxes(range=[r.lo[0], r.hi[0]], title="z0")
    fig.update_yaxes(range=[r.lo[1], r.hi[1]], title="z1", scaleanchor="x")
    fig.update_layout(
        height=height, margin={"l": 10, "r": 10, "t": 30, "b": 10}, legend={"orientation": "h", "y": -0.15}
    )
    return fig


def iwae_curve(r, height: int = 320, t: Words = ENGLISH) -> go.Figure:
    """IWAE-k against k (log axis) rising toward the exact log p(x); ESS of the weights on hover."""
    ks = sorted(r.iwae)
    fig = go.Figure()
    fig.add_scatter(
        x=ks,
        y=[r.iwae[k] for k in ks],
        mode="lines+markers+text",
        text=[f"ESS {r.ess[k]:.1f}" for k in ks],
        # the last label to the left of its point: to the right it was cut by the plot's edge
        textposition=["bottom right"] * (len(ks) - 1) + ["bottom left"],
        name=t("fig_iwae"),
        hovertemplate="k %{x}<br>IWAE-k %{y:.3f}<extra></extra>",
    )
    fig.add_hline(y=r.log_px, line_dash="dash", line_color="black", annotation_text=f"{t('fig_exact')} {r.log_px:.2f}")
    fig.update_xaxes(type="log", title=t("fig_k"))
    fig.update_yaxes(title=t("fig_nats"))
    fig.update_layout(height=height, margin={"l": 10, "r": 10, "t": 30, "b": 10}, showlegend=False)
    return fig


def gap_scatter(
    values: np.ndarray, gaps: dict[str, np.ndarray], x_title: str, height: int = 340, t: Words = ENGLISH
) -> go.Figure:
    """Per-image gaps (nats, log axis) against a factor (phase) or the class."""
    fig = go.Figure()
    for name, gap in gaps.items():
        fig.add_scatter(x=values, y=np.maximum(gap, 1e-3), mode="markers", name=name, marker={"size": 6})
    fig.update_xaxes(title=x_title)
    fig.update_yaxes(type="log", title=t("fig_gap_axis"))
    fig.update_layout(height=height, margin={"l": 10, "r": 10, "t": 30, "b": 10})
    return fig


@dataclass
class LinePanel:
    """One model's 1-D decoder line: every code from end to end, decoded."""

    title: str
    codes: np.ndarray  # (n,) evenly spaced codes
    images: np.ndarray  # (n, C, H, W) their decodes
    phases: np.ndarray | None = None  # (n,) recovered phase of each decode (moons)
    real: np.ndarray | None = None  # (n,) bool: the decode is a real moon of that phase
    data_codes: np.ndarray | None = None  # (N,) codes of the data, shown as ticks


def line_strips(panels: list[LinePanel], height_per_panel: int = 260, t: Words = ENGLISH) -> go.Figure:
    """Per model: the decodes side by side along the code axis, and below them the recovered phase."""
    fig = make_subplots(
        rows=2 * len(panels),
        cols=1,
        row_heights=[0.45, 0.55] * len(panels),
        subplot_titles=[title for p in panels for title in (p.title, "")],
        vertical_spacing=0.06,
    )
    for i, panel in enumerate(panels):
        strip = np.concatenate(list(panel.images[:, 0]), axis=1)  # (H, n*W)
        half = (panel.codes[1] - panel.codes[0]) / 2 if len(panel.codes) > 1 else 0.5
        dx = (panel.codes[-1] - panel.codes[0] + 2 * half) / strip.shape[1]  # each decode spans its code's cell
        # One PNG, not a heatmap of every pixel: the browser decodes it natively (the heatmap's 0.5 MB of
        # numbers took Plotly about a second to draw in Chromium, the tour's slowest step).
        fig.add_trace(
            go.Image(
                source=images.png_uri(images.to_uint8(strip)),
                x0=float(panel.codes[0] - half + dx / 2),  # the first pixel's centre
                dx=float(dx),
                hoverinfo="skip",
            ),
            row=2 * i + 1,
            col=1,
        )
        # the strip stretches over its codes: without scaleanchor=False Plotly keeps its pixels square and widens
        # the shared code axis far past the codes to do so
        fig.update_yaxes(visible=False, scaleanchor=False, row=2 * i + 1, col=1)
        if panel.phases is not None:
            real = panel.real if panel.real is not None else np.ones(len(panel.codes), bool)
            for mask, name, colour in ((real, t("fig_real"), "#2ca02c"), (~real, t("fig_not_real"), "#d62728")):
                fig.add_trace(
                    go.Scatter(
                        x=panel.codes[mask],
                        y=panel.phases[mask],
                        mode="markers",
                        name=name,
                        legendgroup=name,
                        showlegend=i == 0,
                        marker=dict(size=5, color=colour),
                        hovertemplate=f"z %{{x:.2f}}: {t('fig_phase')} %{{y:.3f}}<extra></extra>",
                    ),
                    row=2 * i + 2,
                    col=1,
                )
            fig.update_yaxes(title_text=t("fig_phase"), range=[-0.05, 1.0], row=2 * i + 2, col=1)
        if panel.data_codes is not None:
            # One rug mark per screen pixel at most (600 across the axis): thousands of SVG markers, most
            # drawn over each other, were a large part of the tour's step-6 drawing time in Chromium.
            codes = np.asarray(panel.data_codes, np.float64)
            lo, width = float(codes.min()), float(np.ptp(codes)) / RUG_MARKS or 1.0
            rug = (np.unique(np.round((codes - lo) / width)) * width + lo).astype(np.float32)
            fig.add_trace(
                go.Scatter(
                    x=rug,
                    y=np.full(len(rug), -0.02, np.float32),
                    mode="markers",
                    name=t("fig_data_codes"),
                    legendgroup="data",
                    showlegend=i == 0,
                    marker=dict(symbol="line-ns-open", size=8, color="grey"),
                    hoverinfo="skip",
                ),
                row=2 * i + 2,
                col=1,
            )
        fig.update_xaxes(matches=f"x{2 * i + 2}", row=2 * i + 1, col=1)  # the strip moves with its phase axis
    # one axis title under the last panel: an upper panel's would sit on the next panel's title
    fig.update_xaxes(title_text=t("fig_code_z"), row=2 * len(panels), col=1)
    fig.update_layout(height=height_per_panel * len(panels), margin=TITLED_MARGIN, legend=dict(orientation="h"))
    return fig


def _bands(mask: np.ndarray, phases: np.ndarray) -> list[tuple[float, float]]:
    """The runs of True in mask as (first phase, last phase) intervals."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(int), [0]])))
    return [(float(phases[a]), float(phases[b - 1])) for a, b in zip(edges[::2], edges[1::2])]


def _shading_entry(name: str, show: bool = True) -> go.Scatter:
    """A legend entry for the training phases' shading (vrects have none)."""
    marker = dict(size=10, color="rgba(44,160,44,0.3)", symbol="square")
    return go.Scatter(x=[None], y=[None], mode="markers", marker=marker, name=name, showlegend=show)


def phase_density(
    curves: dict,
    seen: dict[str, np.ndarray],
    labels: dict[str, str],
    names: dict[str, str] | None = None,
    height: int = 320,
) -> go.Figure:
    """log p(x) over phase, one panel per regime: the mean over seeds with a band of ± one standard deviation,
    the training phases shaded. curves: lab results' phase_curves; seen: regime -> (P,) training-phase mask;
    labels: "mean", "band", "training", "phase", "log_px" in the reader's language; names: regime -> its
    panel title in the reader's language (default the regime's identifier)."""
    regimes = list(curves)
    titles = [(names or {}).get(r, r) for r in regimes]
    fig = make_subplots(rows=1, cols=len(regimes), subplot_titles=titles, shared_yaxes=True, horizontal_spacing=0.04)
    for i, regime in enumerate(regimes, start=1):
        phases = np.asarray(curves[regime]["phases"])
        values = np.asarray(curves[regime]["log_px"])  # (seeds, P)
        mean, sd = values.mean(0), values.std(0)
        for lo, hi in _bands(seen[regime], phases):
            # exclude_empty_subplots: this panel has no trace yet, and plotly would drop the shape
            fig.add_vrect(
                x0=lo,
                x1=hi,
                fillcolor="#2ca02c",
                opacity=0.12,
                line_width=0,
                row=1,
                col=i,
                exclude_empty_subplots=False,
            )
        fig.add_trace(
            go.Scatter(
                x=np.concatenate([phases, phases[::-1]]),
                y=np.concatenate([mean + sd, (mean - sd)[::-1]]),
                fill="toself",
                fillcolor="rgba(31,119,180,0.25)",
                line=dict(width=0),
                name=labels["band"],
                legendgroup="band",
                showlegend=i == 1,
                hoverinfo="skip",
            ),
            row=1,
            col=i,
        )
        fig.add_trace(
            go.Scatter(
                x=phases,
                y=mean,
                mode="lines",
                line=dict(color="#1f77b4"),
                name=labels["mean"].format(n=len(values)),
                legendgroup="mean",
                showlegend=i == 1,
                hovertemplate="%{x:.2f}: %{y:.1f}<extra></extra>",
            ),
            row=1,
            col=i,
        )
        fig.add_trace(_shading_entry(labels["training"], i == 1), row=1, col=i)
        fig.update_xaxes(title_text=labels["phase"], range=[0, 1], row=1, col=i)
    fig.update_yaxes(title_text=labels["log_px"], row=1, col=1)
    fig.update_layout(height=height, margin=TITLED_MARGIN, legend=UNDER_AXIS_LEGEND)
    return fig


def family_density(
    curves: dict, seen: np.ndarray, labels: dict[str, str], names: dict[str, str], height: int = 320
) -> go.Figure:
    """log p(x) over phase under one model per posterior family, overlaid, the training phases shaded.
    curves: lab results' family_curves (one row of log_px each); seen: (P,) training-phase mask; labels:
    "training", "phase", "log_px"; names: family -> its legend entry, in the reader's language."""
    fig = go.Figure()
    phases = np.asarray(next(iter(curves.values()))["phases"])
    for lo, hi in _bands(seen, phases):
        fig.add_vrect(x0=lo, x1=hi, fillcolor="#2ca02c", opacity=0.12, line_width=0)
    for i, (family, curve) in enumerate(curves.items()):
        fig.add_trace(
            go.Scatter(
                x=phases,
                y=np.asarray(curve["log_px"]).mean(0),
                mode="lines",
                line=dict(color=CLASS_COLOURS[i]),
                name=names[family],
                hovertemplate="%{x:.2f}: %{y:.1f}<extra></extra>",
            )
        )
    fig.add_trace(_shading_entry(labels["training"]))
    fig.update_xaxes(title_text=labels["phase"], range=[0, 1])
    fig.update_yaxes(title_text=labels["log_px"])
    fig.update_layout(height=height, margin=TITLED_MARGIN, legend=UNDER_AXIS_LEGEND)
    return fig


# the shares of a 2-D Gaussian's mass inside its 1, 2 and 3-sigma ellipses (1 - e^(-k^2 / 2)): a flow q's
# contours hold the same shares of its mass, so its lines and a Gaussian q's ellipses read alike
SIGMA_MASSES = tuple(1 - np.exp(-(k**2) / 2) for k in (1, 2, 3))


def density_levels(density: np.ndarray, masses=SIGMA_MASSES) -> list[float]:
    """The values whose upper level sets on the grid hold these shares of its mass (highest-density regions)."""
    d = np.sort(np.asarray(density, np.float64).ravel())[::-1]
    share = np.cumsum(d) / d.sum()
    return [float(d[min(int(np.searchsorted(share, m)), len(d) - 1)]) for m in masses]


def contour_lines(x: np.ndarray, y: np.ndarray, z: np.ndarray, level: float) -> tuple[list, list]:
    """The level's contour of z (rows along y) as one line's x and y, pieces separated by None (a gap)."""
    import contourpy  # matplotlib's contouring (requirements.txt's matplotlib requires it)

    xs: list = []
    ys: list = []
    for line in contourpy.contour_generator(x, y, z).lines(level):
        xs += [*line[:, 0].tolist(), None]
        ys += [*line[:, 1].tolist(), None]
    return xs, ys


def family_map(panel, title: str, height: int = 340, t: Words = ENGLISH) -> go.Figure:
    """One model's exact p(z|x) as a heat map with its encoder's q over it (1/2/3-sigma ellipses for a
    Gaussian, for a flow the contours holding the same shares of its mass) and its family's q* (ellipses
    of its moments). Lines and a heat map only, the contours computed here: the browser draws it as a
    picture (the page shows it static), with no contouring of its own.

    panel: explorer.inference.FamilyPanel."""
    n = panel.density.shape[0]
    z0, z1 = np.linspace(panel.lo[0], panel.hi[0], n), np.linspace(panel.lo[1], panel.hi[1], n)
    density = np.asarray(panel.density, np.float32)  # half the bytes of float64; nothing reads its digits
    fig = go.Figure(go.Heatmap(x=z0, y=z1, z=density, colorscale="Greys", showscale=False, hoverinfo="skip"))
    if panel.q_density is not None:
        for k, level in enumerate(density_levels(panel.q_density)):
            xs, ys = contour_lines(z0, z1, panel.q_density, level)
            fig.add_scatter(
                x=xs,
                y=ys,
                mode="lines",
                line={"color": MODEL_COLOURS["VAE"], "width": 2 - 0.5 * k},
                name=t("fig_q"),
                legendgroup="q",
                showlegend=k == 0,
                hoverinfo="skip",
            )
    ellipses = [(panel.star_moments, t("fig_q_star"), "#ff7f0e")]
    if panel.q_density is None:
        ellipses.insert(0, (panel.q_moments, t("fig_q"), MODEL_COLOURS["VAE"]))
    for (mean, cov), name, colour in ellipses:
        add_ellipses(fig, mean, cov, name, colour)
    fig.update_xaxes(range=[panel.lo[0], panel.hi[0]], title="z0")
    fig.update_yaxes(range=[panel.lo[1], panel.hi[1]], title="z1")
    fig.update_layout(
        title=dict(text=title, y=1, yref="paper", yanchor="bottom"),  # just above the plot, below the toolbar
        height=height,
        margin=TITLED_MARGIN,
        legend={"orientation": "h"},
    )
    return fig
