"""Plotly figures as pure functions: arrays in, go.Figure out. Nothing here renders."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative, sample_colorscale
from plotly.subplots import make_subplots

MODEL_COLOURS = {"AE": "#d62728", "VAE": "#1f77b4"}
CLASS_COLOURS = qualitative.D3 + qualitative.Set3
PHASE_SCALE = "mrybm"  # cyclic, like the phase it shows
PROBE = -1  # customdata item index of the invisible probe markers
# WebGL traces only for large sets: without a GPU (headless, many laptops' browsers in software GL)
# each WebGL redraw stalled the page for 0.3-1 s after a slider move (bench/); SVG redraws in ms.
WEBGL_ABOVE = 5000


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


def probe_points(lo: np.ndarray, hi: np.ndarray, n: int = 40) -> np.ndarray:
    xs, ys = np.meshgrid(np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n))
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


def _probe_trace(panel: MapPanel, p_idx: int):
    """Invisible markers over the probe box: a click there picks empty space (item PROBE)."""
    grid = probe_points(*panel.probe_box)
    return scatter(
        len(grid) + len(panel.points),
        x=grid[:, 0],
        y=grid[:, 1],
        mode="markers",
        name="empty space",
        marker=dict(size=9, opacity=0.0),
        showlegend=False,
        customdata=np.column_stack([np.full(len(grid), p_idx), np.full(len(grid), PROBE)]),
        hovertemplate="decode here (%{x:.2f}, %{y:.2f})<extra></extra>",
    )


def _class_traces(panel: MapPanel, p_idx: int, colouring: Colouring) -> list:
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
                hovertemplate=f"{name} · item %{{customdata[1]}}<extra></extra>",
            )
        )
    return traces


def _code_trace(panel: MapPanel, p_idx: int, colouring: Colouring):
    """All codes in one trace, on the shared continuous colour axis when coloured by a factor."""
    n = len(panel.points)
    colour = colouring.values if colouring.kind == "factor" else None
    return scatter(
        n,
        x=panel.points[:, 0],
        y=panel.points[:, 1],
        mode="markers",
        name="codes",
        showlegend=False,
        marker=dict(size=5, color=colour, coloraxis="coloraxis" if colour is not None else None, opacity=0.85),
        customdata=np.column_stack([np.full(n, p_idx), np.arange(n)]),
        hovertemplate=(
            f"item %{{customdata[1]}} · {colouring.title} %{{marker.color:.3f}}<extra></extra>"
            if colour is not None
            else "item %{customdata[1]}<extra></extra>"
        ),
    )


def _ellipse_trace(panel: MapPanel, first: bool, max_ellipses: int):
    n = len(panel.points)
    take = np.linspace(0, n - 1, min(n, max_ellipses)).astype(int)
    ex, ey = ellipse_lines(panel.points[take], panel.std[take])
    return go.Scatter(
        x=ex,
        y=ey,
        mode="lines",
        name="±1σ posterior",
        legendgroup="ellipses",
        showlegend=first,
        line=dict(width=0.8, color="rgba(60,60,60,0.45)"),
        hoverinfo="skip",
    )


def _path_trace(panel: MapPanel, first: bool):
    return go.Scatter(
        x=panel.path[:, 0],
        y=panel.path[:, 1],
        mode="lines+markers",
        name="interpolation",
        legendgroup="path",
        showlegend=first,
        line=dict(color="black", width=2.5),
        marker=dict(size=7, color=panel.colour, line=dict(width=1, color="white")),
        hovertemplate="step %{pointNumber}<extra></extra>",
    )


def _marker_trace(panel: MapPanel, first: bool):
    return go.Scatter(
        x=[panel.marker[0]],
        y=[panel.marker[1]],
        mode="markers",
        name="current point",
        legendgroup="marker",
        showlegend=first,
        marker=dict(symbol="star", size=18, color="gold", line=dict(width=1.5, color="black")),
        hoverinfo="skip",
    )


def _panel_traces(panel: MapPanel, p_idx: int, colouring: Colouring, max_ellipses: int) -> list:
    """A panel's traces, bottom to top: probe grid, codes, ellipses, path, current point."""
    first = p_idx == 0
    traces = [_probe_trace(panel, p_idx)] if panel.probe_box is not None else []
    if colouring.kind == "label":
        traces += _class_traces(panel, p_idx, colouring)
    else:
        traces.append(_code_trace(panel, p_idx, colouring))
    if panel.std is not None:
        traces.append(_ellipse_trace(panel, first, max_ellipses))
    if panel.path is not None:
        traces.append(_path_trace(panel, first))
    if panel.marker is not None:
        traces.append(_marker_trace(panel, first))
    return traces


def latent_maps(panels: list[MapPanel], colouring: Colouring, height: int = 460, max_ellipses: int = 60) -> go.Figure:
    """Side-by-side latent maps with one shared legend / colour bar.

    Every pickable marker carries customdata [panel, item] (item = PROBE for empty space),
    so a selection event says which map and which test item was picked.
    """
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[p.title for p in panels], horizontal_spacing=0.08)
    for p_idx, panel in enumerate(panels):
        col = p_idx + 1
        for trace in _panel_traces(panel, p_idx, colouring, max_ellipses):
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
    return fig


def point_colours(colouring: Colouring, take: np.ndarray) -> list[str]:
    """CSS colours of the items take, as the latent map colours them (for the canvas maps)."""
    if colouring.kind == "label":
        return [CLASS_COLOURS[int(v) % len(CLASS_COLOURS)] for v in colouring.values[take]]
    if colouring.kind == "factor":
        return sample_colorscale(PHASE_SCALE, list(np.clip(colouring.values[take], 0, 1)))
    return ["#555"] * len(take)


def step_distances(distances: dict[str, np.ndarray], ylabel: str) -> go.Figure:
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
        height=260,
        margin=dict(l=10, r=10, t=30, b=10),
        xaxis_title="step",
        yaxis_title=ylabel,
        legend=dict(orientation="h", y=1.15),
    )
    return fig


def kl_bars(kl_per_dim: np.ndarray, threshold: float | None = None) -> go.Figure:
    fig = go.Figure(
        go.Bar(x=[f"z{i}" for i in range(len(kl_per_dim))], y=kl_per_dim, marker_color=MODEL_COLOURS["VAE"])
    )
    if threshold is not None:
        fig.add_hline(y=threshold, line_dash="dot")
    fig.update_layout(height=220, margin=dict(l=10, r=10, t=10, b=10), yaxis_title="KL (nats)")
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


def hole_maps(panels: list[HolePanel], colour_title: str, zmax: float | None = None, height: int = 430) -> go.Figure:
    """Heatmaps of manifold distance over latent planes, one shared colour scale; codes and paths on top."""
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[p.title for p in panels], horizontal_spacing=0.08)
    if zmax is None:
        zmax = float(np.percentile(np.concatenate([p.distances.ravel() for p in panels]), 98))
    for i, panel in enumerate(panels):
        col = i + 1
        fig.add_trace(
            go.Heatmap(
                x=panel.xs,
                y=panel.ys,
                z=panel.distances,
                coloraxis="coloraxis",
                hovertemplate="(%{x:.2f}, %{y:.2f}) distance %{z:.4f}<extra></extra>",
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
                    name="test codes",
                    showlegend=i == 0,
                    legendgroup="codes",
                    marker=dict(size=3, color="white", opacity=0.6),
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
                    name="crescent → full",
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
        fig.update_yaxes(title_text=panel.axis_titles[1], row=1, col=col)
    fig.update_layout(
        height=height,
        margin=dict(l=10, r=10, t=40, b=10),
        coloraxis=dict(colorscale="Viridis", cmin=0, cmax=zmax, colorbar=dict(title=colour_title)),
        legend=dict(orientation="h", y=-0.15),
    )
    return fig


TRAIN_COLOURS = {**MODEL_COLOURS, "CVAE": MODEL_COLOURS["VAE"], "REGRESSION": "#7f7f7f"}


def training_curves(history: dict[str, list[dict]]) -> go.Figure:
    """Per-epoch train (solid) and test (dotted) losses of each model: reconstruction, KL, total."""
    fig = make_subplots(rows=1, cols=3, subplot_titles=["reconstruction", "KL", "total (−ELBO for the VAE)"])
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
                    name=f"{kind.upper()} {split}",
                    legendgroup=f"{kind}{split}",
                    showlegend=col == 1,
                    line=dict(color=TRAIN_COLOURS[kind.upper()], dash=dash),
                )
                fig.add_trace(trace, row=1, col=col)
    fig.update_layout(height=280, margin=dict(l=10, r=10, t=30, b=10), xaxis_title="epoch")
    return fig


@dataclass
class BetaPoint:
    beta: float
    recon_mse: float
    prior_validity: float
    name: str  # the run folder


def beta_tradeoff(points: list[BetaPoint], n_samples: int) -> go.Figure:
    """Reconstruction and prior-sample distance against β, one point per VAE (log β when all > 0)."""
    points = sorted(points, key=lambda p: (p.beta, p.recon_mse, p.prior_validity, p.name))
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=["reconstruction MSE (test)", f"prior-sample distance ({n_samples:,} samples)"]
    )
    log = min(p.beta for p in points) > 0
    for col, values in ((1, [p.recon_mse for p in points]), (2, [p.prior_validity for p in points])):
        fig.add_trace(
            go.Scatter(
                x=[p.beta for p in points],
                y=values,
                mode="markers+lines",
                text=[p.name for p in points],
                showlegend=False,
            ),
            row=1,
            col=col,
        )
        fig.update_xaxes(title_text="β", type="log" if log else "linear", row=1, col=col)
    fig.update_layout(height=300, margin=dict(l=10, r=10, t=30, b=10))
    return fig
