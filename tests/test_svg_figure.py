"""explorer/svg_figure.py: a Plotly figure as static SVG draws what the figure says (a heatmap cell's colour, a
point's place against its axis's ticks, hover text, equal aspect, gaps) and refuses what it cannot draw."""

from __future__ import annotations

import base64
import io
import re
import xml.etree.ElementTree as ET

import numpy as np
import plotly.graph_objects as go
import pytest
from PIL import Image
from plotly.subplots import make_subplots

from explorer.svg_figure import Unsupported, figure_svg

NS = "{http://www.w3.org/2000/svg}"


def parse(fig: go.Figure, label: str = "") -> ET.Element:
    root = ET.fromstring(figure_svg(fig, label))
    assert root.tag == f"{NS}svg" and root.get("role") == "img" and root.get("viewBox").startswith("0 0 ")
    return root


def find(root: ET.Element, tag: str) -> list[ET.Element]:
    return list(root.iter(f"{NS}{tag}"))


def offset(root: ET.Element, element: ET.Element) -> tuple[float, float]:
    """The (x, y) translation the nested subplot <svg> and <g> around element add (subplots clip their traces)."""
    parents = {c: p for p in root.iter() for c in p}
    dx = dy = 0.0
    node = parents.get(element)
    while node is not None and node is not root:
        if node.tag == f"{NS}svg":
            dx, dy = dx + float(node.get("x")), dy + float(node.get("y"))
        found = re.fullmatch(r"translate\(([-\d.]+),([-\d.]+)\)", node.get("transform") or "")
        if found:
            dx, dy = dx + float(found.group(1)), dy + float(found.group(2))
        node = parents.get(node)
    return dx, dy


def centres(root: ET.Element) -> list[tuple[float, float]]:
    out = []
    for c in find(root, "circle"):
        dx, dy = offset(root, c)
        out.append((float(c.get("cx")) + dx, float(c.get("cy")) + dy))
    return out


def texts(root: ET.Element) -> dict[str, ET.Element]:
    return {"".join(t.itertext()): t for t in find(root, "text")}


def test_a_heatmap_cell_has_its_colour_on_the_scale_and_a_non_finite_cell_is_a_gap():
    z = [[0.0, 1.0], [2.0, np.nan]]  # row 0 at y = 0 (the bottom)
    scale = [[0, "#000000"], [1, "rgb(0, 0, 255)"]]
    fig = go.Figure(go.Heatmap(z=z, x=[0, 1], y=[0, 1], colorscale=scale, zmin=0, zmax=2))
    (image, *bar) = [i for i in find(parse(fig), "image")]
    assert len(bar) == 1  # the colour bar
    png = Image.open(io.BytesIO(base64.b64decode(image.get("href").split(",", 1)[1]))).convert("RGBA")
    pixels = np.asarray(png)
    assert pixels.shape == (2, 2, 4)
    assert tuple(pixels[0, 0]) == (0, 0, 255, 255)  # top left: y = 1, x = 0, z = 2 = zmax
    assert tuple(pixels[1, 1]) == (0, 0, 128, 255)  # bottom right: z = 1, half way
    assert pixels[0, 1, 3] == 0  # the NaN cell: transparent


def test_points_sit_on_their_axis_ticks_and_carry_their_hover_text():
    fig = go.Figure(
        go.Scatter(
            x=[0, 5, 10],
            y=[0, 5, 10],
            mode="markers",
            customdata=[[0, 7], [0, 8], [0, 9]],
            hovertemplate="item %{customdata[1]}<br>%{x:.2f}<extra>hidden</extra>",
        )
    )
    fig.update_layout(xaxis_range=[0, 10], yaxis_range=[0, 10])
    root = parse(fig)
    (a, b, c) = centres(root)
    assert b[0] == pytest.approx((a[0] + c[0]) / 2, abs=0.2) and a[1] > b[1] > c[1]  # y runs up the page
    ticks = {t.text: t for t in find(root, "text") if t.get("text-anchor") == "middle"}  # the x axis's
    assert float(ticks["4"].get("x")) < b[0] < float(ticks["6"].get("x"))  # x ticks 0, 2, ..., 10
    assert [t.text for t in find(root, "title")] == ["item 7\n0.00", "item 8\n5.00", "item 9\n10.00"]
    assert "\n" not in figure_svg(fig)  # one line (&#10;): a blank line would end Markdown's HTML block


def test_equal_aspect_widens_the_coarser_axis_and_log_axes_tick_their_decades():
    fig = go.Figure(go.Scatter(x=[0, 1, 0], y=[0, 0, 1], mode="markers"))
    fig.update_layout(xaxis_range=[0, 1], yaxis=dict(range=[0, 1], scaleanchor="x"), height=300)
    (o, right, up) = centres(parse(fig))
    assert right[0] - o[0] == pytest.approx(o[1] - up[1], abs=0.3)  # one unit is as long across as up
    fig = go.Figure(go.Scatter(x=[1, 10, 100, 1000, 10000], y=[1, 2, 3, 4, 5])).update_xaxes(type="log")
    labels = set(texts(parse(fig)))
    assert {"1", "10", "100", "1000", "10k"} <= labels


def test_non_finite_values_leave_gaps_and_subplot_titles_label_the_chart():
    fig = make_subplots(rows=1, cols=2, subplot_titles=["AE", "VAE"])
    fig.add_scatter(x=[0, 1, np.nan, 3, 4], y=[0, 1, 2, np.inf, 4], mode="lines", row=1, col=1)
    fig.add_scatter(x=[0, 1], y=[1, 0], mode="markers", row=1, col=2, hoverinfo="skip")
    root = parse(fig)
    lines = [p.get("d") for p in find(root, "path") if p.get("fill") == "none"]
    assert len(lines) == 1 and lines[0].count("M") == 2  # broken at NaN and at inf
    # the line's finite points carry Plotly's default hover text; the skipped trace's none
    assert [t.text for t in find(root, "title")] == ["(0, 0)", "(1, 1)", "(4, 4)"]
    assert root.get("aria-label") == "AE · VAE" and {"AE", "VAE"} <= set(texts(root))
    assert parse(fig, "holes").get("aria-label") == "holes"
    # a non-finite colour value takes the smallest finite one, as bridge.finite_figure does
    scale = [[0, "#000000"], [1, "#ffffff"]]
    fig = go.Figure(
        go.Scatter(
            x=[0, 1, 2], y=[0, 1, 2], mode="markers", marker=dict(color=[0.5, np.nan, 1.0], coloraxis="coloraxis")
        )
    )
    fig.update_layout(coloraxis=dict(colorscale=scale, cmin=0, cmax=1))
    assert [c.get("fill") for c in find(parse(fig), "circle")] == ["#808080", "#808080", "#ffffff"]


@pytest.mark.parametrize(
    "fig",
    [
        go.Figure(go.Bar(x=[1, 2], y=[3, 4])),  # a trace type it does not draw
        go.Figure(go.Scatter(x=[0, 1], y=[0, 1], fill="toself")),  # a setting it does not draw
        go.Figure(go.Scatter(x=[0, 1], y=[0, 1], marker=dict(symbol="hexagram"))),
        go.Figure(go.Heatmap(z=[[1, 2, 3]], x=[0, 1, 5])),  # uneven cells
        go.Figure(go.Image(source="data:image/png;base64,")),  # Plotly's default square pixels move the axes
        go.Figure(go.Scatter(x=[0], y=[0])).add_annotation(x=0, y=0, text="an arrow"),  # showarrow defaults on
        go.Figure(go.Scatter(x=[0], y=[0], hovertemplate="%{y:$.2s}")),  # a number format it does not know
        go.Figure(go.Scatter(x=[0], y=[0], name="<b>bold</b>", showlegend=True)).update_layout(showlegend=True),
    ],
)
def test_what_it_cannot_draw_is_refused_not_drawn_wrong(fig):
    with pytest.raises(Unsupported):
        figure_svg(fig)


def test_a_figure_it_cannot_draw_is_drawn_by_plotly_instead_and_one_it_can_as_svg():
    """bridge.static_chart: a refused figure (here a bar chart; in the app, say, markup in a class name read from
    a file) is an interactive Plotly chart, never an error and never a wrong drawing."""
    from streamlit.testing.v1 import AppTest

    def page():
        import plotly.graph_objects as go

        from explorer.ui.bridge import static_chart

        static_chart(go.Figure(go.Bar(x=[1], y=[2])), key="bar")
        static_chart(go.Figure(go.Scatter(x=[1, 2], y=[2, 1], name="<b>x</b>", showlegend=True)), key="markup")
        static_chart(go.Figure(go.Scatter(x=[1, 2], y=[2, 1])), label="a line")

    at = AppTest.from_function(page).run()
    assert not at.exception and len(at.get("plotly_chart")) == 2
    (svg,) = [m.value for m in at.markdown if m.value.startswith('<div class="le-chart"><svg')]
    assert 'aria-label="a line"' in svg
