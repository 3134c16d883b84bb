"""A Plotly figure as static SVG text, for charts the reader looks at rather than works with.

Chromium draws a Plotly chart in tens of milliseconds and Plotly draws each new one twice; the same chart as
inline SVG is one element the browser lays out with the page's text (bench/floor_tour_app.py measures both).
explorer/figures.py stays the one home of what a chart shows: this module reads the go.Figure it builds and
draws exactly the features those figures use: heatmaps (one PNG raster), scatter lines, markers and text, line
shapes, annotations, linear and log axes with ranges, equal aspect (scaleanchor) and matched axes, subplots'
domains, colour bars and a simple legend. Hover text becomes each point's SVG <title> (the browser's tooltip).

Anything else makes it raise Unsupported rather than draw something the figure does not say. Non-finite
values follow bridge.finite_figure's rule: a gap in a line, a point left out, the smallest finite value in a
colour array; a heatmap's non-finite cell is left transparent. Pure: no Streamlit here.
"""

from __future__ import annotations

import base64
import math
import re
from html import escape
from typing import TYPE_CHECKING

import numpy as np
from plotly.colors import qualitative

from explorer.images import png_bytes

if TYPE_CHECKING:
    import plotly.graph_objects as go

# The viewBox's width: the SVG scales to its column, at most GROWTH times (text 12 px drawn at 9.5-15 px): the
# tour's column is about 940 px wide in a 1400 px window and 540 px at 800 px with the sidebar open.
WIDTH = 600
GROWTH = 1.25
FONT = 12  # Plotly's default font size
TITLE_FONT = 16
INK, GREY, GRID = "#31333f", "#6b6f7b", "#e6e9ef"  # Streamlit's text, its muted labels, a light grid
COLOURWAY = qualitative.D3  # Plotly's default trace colours (what go.Figure draws without a template's)
SWATCH = 28  # a legend entry's sample line, px


class Unsupported(ValueError):
    """The figure uses something this translator does not draw (its path in the figure is the message)."""


# What each part of a figure may set; anything else is refused. Interaction-only settings (drag, click,
# hover mode) have no meaning in a static picture and are accepted.
SCATTER = {"type", "x", "y", "mode", "name", "legendgroup", "showlegend", "legend", "marker", "line", "text"}
SCATTER |= {"textposition", "hovertemplate", "hoverinfo", "customdata", "xaxis", "yaxis", "opacity"}
TRACES = {
    "scatter": SCATTER,
    "scattergl": SCATTER,
    "heatmap": {"type", "x", "y", "z", "coloraxis", "colorscale", "colorbar", "showscale", "zmin", "zmax"}
    | {"hovertemplate", "hoverinfo", "xaxis", "yaxis", "name"},
    "image": {"type", "source", "x0", "dx", "hoverinfo", "xaxis", "yaxis", "name"},
}
MARKER = {"color", "size", "opacity", "symbol", "line", "coloraxis"}
LINE = {"color", "width", "dash"}
COLORBAR = {"title", "thickness"}
LAYOUT = {"template", "annotations", "shapes", "coloraxis", "height", "legend", "legend2", "margin", "showlegend"}
LAYOUT |= {"clickmode", "dragmode", "hovermode", "title"}
AXIS = {"anchor", "domain", "title", "range", "type", "scaleanchor", "matches", "visible", "zeroline"}
ANNOTATION = {"text", "x", "y", "xref", "yref", "xanchor", "yanchor", "showarrow", "font"}
SHAPE = {"type", "x0", "x1", "y0", "y1", "xref", "yref", "line"}
LEGEND = {"orientation", "x", "y", "xanchor", "yanchor", "itemsizing"}
COLORAXIS = {"colorscale", "cmin", "cmax", "colorbar", "showscale"}
SYMBOLS = {"circle", "square", "diamond", "star", "x", "line-ns-open"}
DASHES = {"solid": 0, "dot": 1, "dash": 3}  # Plotly's dash length over the line width (at least 3 px)
AXIS_KEY = re.compile(r"^([xy])axis(\d*)$")
FORMAT = re.compile(r"%\{([a-z.\[\]0-9]+)(?::([^}]*))?\}")


def check(part: dict, allowed: set, where: str) -> None:
    extra = sorted(set(part) - allowed)
    if extra:
        raise Unsupported(f"{where}.{extra[0]}")


def array(value, dtype=np.float64) -> np.ndarray:
    """A figure's array: a list, a numpy array, or Plotly's {"dtype", "bdata", "shape"} form."""
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        shape = value.get("shape")
        if isinstance(shape, str):
            shape = [int(s) for s in shape.split(",")]
        value = flat.reshape(shape) if shape else flat
    if dtype is object:
        return np.asarray(value, dtype=object)
    return np.asarray([np.nan if v is None else v for v in value] if isinstance(value, list) else value, dtype)


def num(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def text_width(text: str, size: float = FONT) -> float:
    """Roughly how wide a line of text is: CJK glyphs are square, Latin ones about half as wide."""
    return sum(size if ord(ch) > 0x2E80 else 0.55 * size for ch in text)


def words(text) -> str:
    """A figure's words for SVG: Plotly's <br> becomes a line break; any other markup is refused."""
    text = str(text)
    if re.search(r"<(?!br\s*/?>)", text):
        raise Unsupported(f"markup in {text!r}")
    return re.sub(r"<br\s*/?>", "\n", text)


def label(x: float, y: float, text: str, size: float = FONT, anchor: str = "start", fill: str = GREY, **attrs) -> str:
    """A <text> (several lines as <tspan>s); attrs are more attributes (underscores as dashes)."""
    extra = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in attrs.items())
    lines = words(text).split("\n")
    head = f'<text x="{num(x)}" y="{num(y)}" font-size="{num(size)}" text-anchor="{anchor}" fill="{fill}"{extra}>'
    if len(lines) == 1:
        return head + escape(lines[0]) + "</text>"
    spans = "".join(
        f'<tspan x="{num(x)}" dy="{0 if i == 0 else num(1.2 * size)}">{escape(line)}</tspan>'
        for i, line in enumerate(lines)
    )
    return head + spans + "</text>"


# --- colours -------------------------------------------------------------------------------------------------


def rgb(colour: str) -> tuple[float, float, float]:
    """'#rrggbb' or 'rgb(r, g, b)' (a colour scale's stops) as three 0-255 numbers."""
    colour = colour.strip()
    if colour.startswith("#") and len(colour) == 7:
        return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
    found = re.fullmatch(r"rgba?\(([^)]*)\)", colour)
    if found:
        return tuple(float(v) for v in found.group(1).split(",")[:3])
    raise Unsupported(f"colour scale stop {colour!r}")


def scale_colours(scale, values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """(N, 3) uint8 colours of values on a Plotly colour scale ([[position, colour], ...]) from lo to hi."""
    if not isinstance(scale, (list, tuple)):  # Plotly resolves a named scale into its stops; None: its default
        raise Unsupported(f"colour scale {scale!r}")
    stops = np.array([float(p) for p, _ in scale])
    channels = np.array([rgb(c) for _, c in scale])  # (S, 3)
    at = np.clip((values - lo) / (hi - lo) if hi > lo else np.zeros_like(values), 0, 1)
    return np.stack([np.interp(at, stops, channels[:, i]) for i in range(3)], -1).round().astype(np.uint8)


def css(colours: np.ndarray) -> list[str]:
    return ["#%02x%02x%02x" % tuple(c) for c in colours]


def png_uri(image: np.ndarray) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(image)).decode("ascii")


# --- axes ----------------------------------------------------------------------------------------------------


class Axis:
    """One axis: its domain, range (data units; log axes in decades) and pixel span once laid out."""

    def __init__(self, name: str, spec: dict):
        check(spec, AXIS, f"layout.{name}")
        self.name, self.letter = name, name[0]
        self.domain = tuple(spec.get("domain", (0.0, 1.0)))
        self.log = spec.get("type", "linear") == "log"
        if spec.get("type", "linear") not in ("linear", "log", "-"):
            raise Unsupported(f"layout.{name}.type {spec['type']}")
        self.given = tuple(spec["range"]) if spec.get("range") is not None else None
        self.title = (spec.get("title") or {}).get("text") or ""
        self.standoff = (spec.get("title") or {}).get("standoff", 10)
        self.visible = spec.get("visible", True) is not False
        self.anchor = spec.get("anchor")
        self.matches = spec.get("matches")
        self.scaleanchor = spec.get("scaleanchor")
        self.extents: list[tuple[float, float, float]] = []  # (low, high, pixels of padding) of what it draws
        self.reversed = False
        self.range = (0.0, 1.0)
        self.start = self.length = 0.0  # pixels

    def data(self, values: np.ndarray, pad: float = 0.0) -> None:
        """Values a trace draws on this axis; pad: pixels its markers or text reach past them."""
        values = values[np.isfinite(values)]
        if self.log:
            values = np.log10(values[values > 0])
        if values.size:
            self.extents.append((float(values.min()), float(values.max()), pad))

    def autorange(self) -> tuple[float, float]:
        """The data's span, widened so that markers and text at its ends fit (as Plotly's autorange)."""
        if not self.extents:
            return (-1.0, 6.0) if not self.log else (0.0, 1.0)
        lo, hi = min(e[0] for e in self.extents), max(e[1] for e in self.extents)
        if hi <= lo:
            lo, hi = lo - 1, hi + 1
        pad = max(e[2] for e in self.extents)
        if pad and self.length > 4 * pad:
            per = (hi - lo) / (self.length - 2 * pad)  # data units a pixel, once the padding is taken
            lo, hi = lo - pad * per, hi + pad * per
        return lo, hi

    def px(self, v) -> np.ndarray:
        """Pixels (from the SVG's left or top) of values (data units)."""
        v = np.asarray(v, dtype=np.float64)
        if self.log:
            with np.errstate(divide="ignore", invalid="ignore"):
                v = np.where(v > 0, np.log10(np.where(v > 0, v, 1)), np.nan)
        lo, hi = self.range
        f = (v - lo) / (hi - lo)
        if (self.letter == "y") != self.reversed:  # y runs up the page unless reversed
            f = 1 - f
        return self.start + f * self.length

    def ticks(self) -> list[tuple[float, str, bool]]:
        """(value, label, major) of Plotly's automatic ticks: about one per 80 px across, 40 px up."""
        lo, hi = sorted(self.range)
        n = min(max(self.length / (80 if self.letter == "x" else 40), 4), 9) + 1
        if self.log:
            return log_ticks(lo, hi, n)
        dtick = nice_step((hi - lo) / n)
        first = math.ceil(lo / dtick - 1e-9)
        values = [(first + i) * dtick for i in range(int((hi - lo) / dtick + 1e-9) + 2)]
        digits = max(0, -math.floor(math.log10(dtick) + 1e-9))
        return [(v, tick_label(v, digits), True) for v in values if lo - 1e-9 <= v <= hi + 1e-9]


def nice_step(rough: float) -> float:
    """Plotly's tick step: the rough step rounded up to 1, 2 or 5 times a power of ten."""
    base = 10 ** math.floor(math.log10(rough))
    return base * next(s for s in (1, 2, 5, 10) if s >= rough / base - 1e-9)


def tick_label(v: float, digits: int) -> str:
    """Plotly's tick text: trailing zeros dropped, a true minus sign, thousands from 10k as k and M."""
    if abs(v) < 1e-12:
        return "0"
    for size, suffix in ((1e6, "M"), (1e4, "k")):
        if abs(v) >= size:
            return tick_label(v / (size if suffix == "M" else 1e3), max(0, digits - 3)) + suffix
    text = f"{abs(v):.{digits}f}"
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return ("\u2212" if v < 0 else "") + text


def log_ticks(lo: float, hi: float, n: float) -> list[tuple[float, str, bool]]:
    """Decades (lo, hi in log10): every decade labelled; with few decades also 2 and 5, labelled small."""
    out = []
    for decade in range(math.floor(lo), math.ceil(hi) + 1):
        for m in (1, 2, 5) if (hi - lo) / n <= 0.7 else (1,):
            at = decade + math.log10(m)
            if lo - 1e-9 <= at <= hi + 1e-9:
                out.append((at, tick_label(10**decade, 0) if m == 1 else str(m), m == 1))
    return out


# --- the figure ----------------------------------------------------------------------------------------------


class Chart:
    """A figure being drawn: its spec (go.Figure.to_dict()), axes, canvas size and the SVG parts."""

    def __init__(self, fig: go.Figure, width: int):
        spec = fig.to_dict()
        self.traces, self.layout = spec["data"], spec["layout"]
        check(self.layout, LAYOUT | {k for k in self.layout if AXIS_KEY.match(k)}, "layout")
        self.width, self.height = width, int(self.layout.get("height") or 450)
        self.axes = {k: Axis(k, v) for k, v in self.layout.items() if AXIS_KEY.match(k)}
        for trace in self.traces:
            kind = trace.get("type", "scatter")
            if kind not in TRACES:
                raise Unsupported(f"trace type {kind}")
            check(trace, TRACES[kind], kind)
            for ref in (trace.get("xaxis", "x"), trace.get("yaxis", "y")):
                self.axis(ref)

    def axis(self, ref: str) -> Axis:
        """The axis a trace or annotation names ('x', 'y2', ...), made with defaults when layout has none."""
        name = f"{ref[0]}axis{ref[1:]}"
        if name not in self.axes:
            self.axes[name] = Axis(name, {})
        return self.axes[name]

    def pair(self, trace: dict) -> tuple[Axis, Axis]:
        return self.axis(trace.get("xaxis", "x")), self.axis(trace.get("yaxis", "y"))


def colour_axis(chart: Chart, trace: dict, marker: dict | None = None) -> dict | None:
    """The colour scale a heatmap or marker array is drawn with: {"scale", "cmin", "cmax", "colorbar", "show",
    "name"}: its layout coloraxis, else (a heatmap's) its own; None for a marker array without a coloraxis."""
    owner = marker if marker is not None else trace
    name = owner.get("coloraxis")
    if name:
        if name not in chart.layout:
            raise Unsupported(f"{name} missing")
        spec, lo, hi = chart.layout[name], "cmin", "cmax"
        check(spec, COLORAXIS, f"layout.{name}")
    elif marker is not None:
        return None
    else:
        spec, lo, hi, name = trace, "zmin", "zmax", id(trace)
    return {
        "scale": spec.get("colorscale"),
        "cmin": spec.get(lo),
        "cmax": spec.get(hi),
        "colorbar": spec.get("colorbar") or {},
        "show": spec.get("showscale", True) is not False,
        "name": name,
    }


def figure_svg(fig: go.Figure, label_text: str = "", width: int = WIDTH) -> str:
    """The figure as one <svg> element (role="img", its aria-label label_text or the figure's titles) scaled to
    its container's width by its viewBox. Raises Unsupported for anything it does not draw."""
    chart = Chart(fig, width)
    prepared = [prepare(chart, i, trace) for i, trace in enumerate(chart.traces)]
    for shape in chart.layout.get("shapes", []):  # a shape on data coordinates is in the axes' range too
        for letter in "xy":
            ref = shape.get(f"{letter}ref", letter)
            if ref != "paper" and not ref.endswith(" domain"):
                chart.axis(ref).data(array([shape.get(f"{letter}0"), shape.get(f"{letter}1")]))
    bars = colour_bars(chart, prepared)
    legend = legend_entries(chart, prepared)
    layout_plot(chart, bars, legend)
    body = [f'<rect width="{width}" height="{chart.height}" fill="#fff"/>']
    body += grid_lines(chart)
    for part in prepared:
        body += part["draw"]()
    body += axes_labels(chart)
    body += shapes(chart) + annotations(chart)
    body += draw_colour_bars(chart, bars) + draw_legend(chart, legend)
    title = (chart.layout.get("title") or {}).get("text")
    if title:
        body.append(label(width / 2, 22, title, 17, "middle", INK))
    aria = label_text or " · ".join(
        words(a.get("text", "")) for a in chart.layout.get("annotations", []) if a.get("yref") == "paper"
    )
    aria = aria or title or ""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {chart.height}" role="img" '
        f'aria-label="{escape(aria)}" style="width:100%;max-width:{num(GROWTH * width)}px;height:auto;display:block">'
        + "".join(body).replace("\n", "&#10;")  # one line: a blank line would end Markdown's HTML block
        + "</svg>"
    )


# --- traces: each prepares its data (ranges) now, and draws once the axes are laid out ------------------------


def prepare(chart: Chart, index: int, trace: dict) -> dict:
    kind = trace.get("type", "scatter")
    if kind == "heatmap":
        return prepare_heatmap(chart, trace)
    if kind == "image":
        return prepare_image(chart, trace)
    return prepare_scatter(chart, index, trace)


def cell_edges(centres: np.ndarray, n: int, what: str) -> tuple[float, float]:
    """A heatmap's outer edges from its evenly spaced cell centres."""
    if len(centres) != n or n < 2:
        raise Unsupported(f"heatmap {what} of {len(centres)} values for {n} cells")
    step = np.diff(centres)
    if not np.allclose(step, step[0], rtol=1e-3) or step[0] <= 0:
        raise Unsupported(f"heatmap {what} not evenly increasing")
    return float(centres[0] - step[0] / 2), float(centres[-1] + step[0] / 2)


def prepare_heatmap(chart: Chart, trace: dict) -> dict:
    z = array(trace["z"])
    if z.ndim != 2:
        raise Unsupported("heatmap z not 2-D")
    ny, nx = z.shape
    xa, ya = chart.pair(trace)
    if xa.log or ya.log:
        raise Unsupported("heatmap on a log axis")
    x = array(trace["x"]) if trace.get("x") is not None else np.arange(nx, dtype=float)
    y = array(trace["y"]) if trace.get("y") is not None else np.arange(ny, dtype=float)
    (x0, x1), (y0, y1) = cell_edges(x, nx, "x"), cell_edges(y, ny, "y")
    xa.data(np.array([x0, x1]))
    ya.data(np.array([y0, y1]))
    colours = colour_axis(chart, trace)
    finite = z[np.isfinite(z)]
    lo = colours["cmin"] if colours["cmin"] is not None else (float(finite.min()) if finite.size else 0.0)
    hi = colours["cmax"] if colours["cmax"] is not None else (float(finite.max()) if finite.size else 1.0)
    colours.update(cmin=lo, cmax=hi)

    def draw() -> list[str]:
        rgba = np.zeros((ny, nx, 4), np.uint8)
        rgba[..., :3] = scale_colours(colours["scale"], np.nan_to_num(z, nan=lo), lo, hi).reshape(ny, nx, 3)
        rgba[..., 3] = np.where(np.isfinite(z), 255, 0)
        left, right = xa.px([x0, x1])
        top, bottom = ya.px([y1, y0])
        return [
            clipped(
                xa,
                ya,
                f'<image href="{png_uri(rgba[::-1])}" x="{num(left)}" y="{num(top)}" width="{num(right - left)}" '
                f'height="{num(bottom - top)}" preserveAspectRatio="none" style="image-rendering:pixelated"/>',
            )
        ]

    return {"draw": draw, "colours": colours, "trace": trace}


def png_size(uri: str) -> tuple[int, int]:
    """(width, height) of a PNG data URI, read from its header."""
    head = uri.split(",", 1)
    if not uri.startswith("data:image/png;base64,") or len(head) != 2:
        raise Unsupported("image source other than a PNG data URI")
    raw = base64.b64decode(head[1][:64])
    return int.from_bytes(raw[16:20], "big"), int.from_bytes(raw[20:24], "big")


def prepare_image(chart: Chart, trace: dict) -> dict:
    xa, ya = chart.pair(trace)
    if chart.layout.get(ya.name, {}).get("scaleanchor", None) is not False:
        # Plotly keeps an image's pixels square by default (and changes the axes' ranges to do so)
        raise Unsupported("image without yaxis.scaleanchor=False")
    if xa.log:
        raise Unsupported("image on a log axis")
    w, h = png_size(trace["source"])
    x0, dx = float(trace.get("x0", 0)), float(trace.get("dx", 1))
    left_edge, right_edge = x0 - dx / 2, x0 + (w - 0.5) * dx
    xa.data(np.array([left_edge, right_edge]))
    ya.data(np.array([-0.5, h - 0.5]))
    ya.reversed = True  # Plotly's image rows run down from the top

    def draw() -> list[str]:
        left, right = xa.px([left_edge, right_edge])
        top, bottom = ya.px([-0.5, h - 0.5])
        return [
            clipped(
                xa,
                ya,
                f'<image href="{trace["source"]}" x="{num(left)}" y="{num(top)}" width="{num(right - left)}" '
                f'height="{num(bottom - top)}" preserveAspectRatio="none" style="image-rendering:pixelated"/>',
            )
        ]

    return {"draw": draw, "trace": trace}


def clipped(xa: Axis, ya: Axis, inner: str) -> str:
    """inner drawn inside its subplot's rectangle only: a nested <svg> clips without ids (an SVG's clipPath ids
    would clash between two charts on a page)."""
    x, y, w, h = xa.start, ya.start, xa.length, ya.length
    moved = f'<g transform="translate({num(-x)},{num(-y)})">{inner}</g>'
    return f'<svg x="{num(x)}" y="{num(y)}" width="{num(w)}" height="{num(h)}" overflow="hidden">{moved}</svg>'


def hover_texts(trace: dict, x: np.ndarray, y: np.ndarray, colours: np.ndarray | None) -> list[str] | None:
    """Each point's hover text from the trace's hovertemplate (or Plotly's default "(x, y)"), None when the
    trace has none to show."""
    if trace.get("hoverinfo") in ("skip", "none"):
        return None
    template = trace.get("hovertemplate")
    if template is None:
        template = "(%{x}, %{y})" + (f" {trace['name']}" if trace.get("name") else "")
    template = words(re.sub(r"<extra>.*?</extra>", "", template)).replace("\n", "<br>")
    fields = {"x": x, "y": y, "pointNumber": np.arange(len(x)), "marker.color": colours}
    if isinstance(trace.get("text"), (list, dict)):
        fields["text"] = array(trace["text"], object)
    if trace.get("customdata") is not None:
        custom = array(trace["customdata"], object)
        fields |= {f"customdata[{k}]": custom[:, k] for k in range(custom.shape[1] if custom.ndim == 2 else 0)}
    for name, spec in FORMAT.findall(template):
        if fields.get(name) is None:
            raise Unsupported(f"hovertemplate field {name}")
        if spec and not re.fullmatch(r"\.\d+[fg]", spec):
            raise Unsupported(f"hovertemplate format {spec}")
    return [
        FORMAT.sub(lambda m: hover_value(fields[m.group(1)][i], m.group(2)), template).replace("<br>", "\n")
        for i in range(len(x))
    ]


def hover_value(v, spec: str | None) -> str:
    """A value in a hover text: d3's .Nf / .Ng where the template gives it, else as Plotly prints a number."""
    if isinstance(v, str):
        return v
    v = float(v)
    return format(v, spec) if spec else (str(int(v)) if v.is_integer() else f"{v:g}")


def marker_d(symbol: str, x: float, y: float, size: float) -> str:
    """An SVG path's d of one marker (size: Plotly's, the diameter in px)."""
    r = size / 2
    if symbol == "circle":  # two half arcs
        return f"M{num(x - r)} {num(y)}a{num(r)} {num(r)} 0 1 0 {num(size)} 0a{num(r)} {num(r)} 0 1 0 {num(-size)} 0"
    if symbol == "square":
        return f"M{num(x - r)} {num(y - r)}h{num(size)}v{num(size)}h{num(-size)}Z"
    if symbol == "diamond":
        return f"M{num(x)} {num(y - r)}L{num(x + r)} {num(y)}L{num(x)} {num(y + r)}L{num(x - r)} {num(y)}Z"
    if symbol == "line-ns-open":
        return f"M{num(x)} {num(y - r)}V{num(y + r)}"
    if symbol == "x":
        return (
            f"M{num(x - r)} {num(y - r)}L{num(x + r)} {num(y + r)}M{num(x + r)} {num(y - r)}L{num(x - r)} {num(y + r)}"
        )
    # a five-pointed star, inner radius 0.4 of the outer
    points = [
        (x + rad * math.sin(a), y - rad * math.cos(a))
        for k in range(10)
        for a, rad in [(k * math.pi / 5, r if k % 2 == 0 else 0.4 * r)]
    ]
    return "M" + "L".join(f"{num(px)} {num(py)}" for px, py in points) + "Z"


def marker_path(symbol: str, x: float, y: float, size: float) -> str:
    """One marker's element, unclosed (its attributes and content follow): a circle as <circle>, others <path>."""
    if symbol == "circle":
        return f'<circle cx="{num(x)}" cy="{num(y)}" r="{num(size / 2)}"'
    return f'<path d="{marker_d(symbol, x, y, size)}"'


def line_path(px: np.ndarray, py: np.ndarray) -> str:
    """An SVG path's d through the points, broken where a point is not finite (a gap, as Plotly draws)."""
    parts, pen = [], False
    for a, b in zip(px, py):
        if not (math.isfinite(a) and math.isfinite(b)):
            pen = False
            continue
        parts.append(f"{'L' if pen else 'M'}{num(a)} {num(b)}")
        pen = True
    return "".join(parts)


def line_style(line: dict, colour: str) -> tuple[str, float, str]:
    """(stroke, width, dasharray attribute text) of a trace's or shape's line."""
    check(line, LINE, "line")
    width = float(line.get("width", 2))
    dash = line.get("dash", "solid")
    if dash not in DASHES:
        raise Unsupported(f"line.dash {dash}")
    unit = max(width, 3) * DASHES[dash]
    return line.get("color", colour), width, f' stroke-dasharray="{num(unit)},{num(unit)}"' if unit else ""


def text_anchor(position: str, r: float, size: float) -> tuple[float, float, str]:
    """(dx, dy, text-anchor) of a point's text at Plotly's textposition ('bottom right', 'middle center', ...)."""
    vertical, _, horizontal = position.partition(" ")
    if vertical not in ("top", "middle", "bottom") or horizontal not in ("left", "center", "right"):
        raise Unsupported(f"textposition {position}")
    dy = {"top": -r - 3, "middle": 0.35 * size, "bottom": r + size}[vertical]
    dx, anchor = {"left": (-r, "end"), "center": (0, "middle"), "right": (r, "start")}[horizontal]
    return dx, dy, anchor


def marker_colours(chart: Chart, trace: dict, colour) -> tuple[np.ndarray | None, list | dict | None]:
    """(numbers, their colour scale) of a marker colour array on a colour axis, (None, CSS colours) of an array
    of colours, (None, None) of one colour."""
    if not isinstance(colour, (list, tuple, dict, np.ndarray)):
        return None, None
    values = array(colour, object)
    if all(isinstance(v, str) for v in values):
        return None, list(values)
    values, scale = array(colour), colour_axis(chart, trace, trace.get("marker"))
    if scale is None:
        raise Unsupported("numeric marker colours without a coloraxis")
    ok = np.isfinite(values)
    return np.where(ok, values, values[ok].min() if ok.any() else 0.0), scale  # finite_figure's rule


def prepare_scatter(chart: Chart, index: int, trace: dict) -> dict:
    xa, ya = chart.pair(trace)
    x, y = array(trace.get("x", [])), array(trace.get("y", []))
    if len(x) != len(y):
        raise Unsupported("scatter x and y of different lengths")
    mode = set((trace.get("mode") or ("lines+markers" if len(x) < 20 else "lines")).split("+"))
    if not mode <= {"lines", "markers", "text"}:
        raise Unsupported(f"scatter mode {trace.get('mode')}")
    marker = trace.get("marker") or {}
    check(marker, MARKER, "scatter.marker")
    default = COLOURWAY[index % len(COLOURWAY)]
    reach = float(marker.get("size", 6)) / 2 + 2 if mode & {"markers", "text"} else 0.0
    xa.data(x, reach + (text_width("0" * 8) if "text" in mode else 0))
    ya.data(y, reach + (FONT + 4 if "text" in mode else 0))
    colour = marker.get("color", (trace.get("line") or {}).get("color", default))
    values, colours = marker_colours(chart, trace, colour)
    symbol = marker.get("symbol", "circle")
    if symbol not in SYMBOLS:
        raise Unsupported(f"marker.symbol {symbol}")
    style = {"colour": colour, "default": default, "symbol": symbol, "mode": mode, "marker": marker}

    def draw() -> list[str]:
        px, py = xa.px(x), ya.px(y)
        out = []
        if "lines" in mode:
            stroke, width, dash = line_style(trace.get("line") or {}, default)
            out.append(
                f'<path d="{line_path(px, py)}" fill="none" stroke="{stroke}" stroke-width="{num(width)}"{dash} '
                'stroke-linejoin="round"/>'
            )
        titles = hover_texts(trace, x, y, values)
        if "markers" in mode:
            out.append(draw_markers(chart, px, py, style, values, colours, titles))
            titles = None
        if "text" in mode:
            out.append(draw_texts(trace, px, py, float(marker.get("size", 6)) / 2))
        if titles is not None:  # a line without markers: its points still carry their hover text
            out.append(draw_markers(chart, px, py, {**style, "marker": {"size": 8, "opacity": 0}}, None, None, titles))
        return [clipped(xa, ya, "".join(out))]

    return {"draw": draw, "colours": colours if isinstance(colours, dict) else None, "trace": trace, "style": style}


def marker_paint(style: dict) -> tuple[str, str]:
    """(fill attribute text, stroke attribute text) of a trace's markers, shared by every point."""
    marker, symbol = style["marker"], style["symbol"]
    line = marker.get("line") or {}
    check(line, {"color", "width"}, "scatter.marker.line")
    colour = style["colour"] if isinstance(style["colour"], str) else None
    if symbol in ("x", "line-ns-open"):  # Plotly's open and line symbols are strokes in the marker's colour
        width = line.get("width", 1) or 1
        return ' fill="none"', f' stroke="{colour or style["default"]}" stroke-width="{num(width)}"'
    stroke = f' stroke="{line.get("color", "#444")}" stroke-width="{num(line["width"])}"' if line.get("width") else ""
    return (f' fill="{colour}"' if colour else ""), stroke


def draw_markers(chart: Chart, px, py, style: dict, values, colours, titles) -> str:
    """Every point's marker in one group (shared paint and opacity), each with its <title> when it has one."""
    marker = style["marker"]
    size = float(marker.get("size", 6))
    fill, stroke = marker_paint(style)
    opacity = marker.get("opacity")
    if isinstance(colours, dict):
        lo = colours["cmin"] if colours["cmin"] is not None else float(values.min())
        hi = colours["cmax"] if colours["cmax"] is not None else float(values.max())
        each = css(scale_colours(colours["scale"], values, lo, hi))
    else:
        each = colours
    group = f"<g{fill}{stroke}" + (f' opacity="{float(opacity):g}"' if opacity is not None else "")
    shown = [i for i, (a, b) in enumerate(zip(px, py)) if math.isfinite(a) and math.isfinite(b)]
    if each is None and not titles:  # alike and silent: one path draws them all (an element each cost the browser)
        return group + f'><path d="{"".join(marker_d(style["symbol"], px[i], py[i], size) for i in shown)}"/></g>'
    parts = []
    for i in shown:
        element = marker_path(style["symbol"], px[i], py[i], size)
        if each is not None:
            element += f' fill="{each[i]}"'
        parts.append(element + (f"><title>{escape(titles[i])}</title></{element[1:].split()[0]}>" if titles else "/>"))
    return group + ">" + "".join(parts) + "</g>"


def draw_texts(trace: dict, px, py, r: float) -> str:
    texts = (
        array(trace["text"], object) if isinstance(trace.get("text"), (list, dict)) else [trace.get("text")] * len(px)
    )
    positions = trace.get("textposition", "middle center")
    positions = positions if isinstance(positions, (list, tuple)) else [positions] * len(px)
    out = []
    for a, b, text, position in zip(px, py, texts, positions):
        if text is None or not (math.isfinite(a) and math.isfinite(b)):
            continue
        dx, dy, anchor = text_anchor(position, r, FONT)
        out.append(label(a + dx, b + dy, str(text), FONT, anchor, INK))
    return "".join(out)


# --- colour bars and the legend ------------------------------------------------------------------------------


def colour_bars(chart: Chart, prepared: list[dict]) -> list[dict]:
    """The colour scales to draw a bar for, one per colour axis (or heatmap with its own scale)."""
    bars, seen = [], set()
    for part in prepared:
        c = part.get("colours")
        if c and c["show"] and c["name"] not in seen:
            seen.add(c["name"])
            check(c["colorbar"], COLORBAR, "colorbar")
            if c["cmin"] is None or c["cmax"] is None:
                raise Unsupported("a colour bar without cmin and cmax")
            bars.append(c)
    if len(bars) > 1:
        raise Unsupported("more than one colour bar")
    return bars


def legend_entries(chart: Chart, prepared: list[dict]) -> list[dict]:
    """The entries Plotly's legend would list: scatter traces not hidden from it, when it shows at all."""
    entries = [
        {"name": p["trace"].get("name", f"trace {i}"), "style": p["style"], "trace": p["trace"]}
        for i, p in enumerate(prepared)
        if "style" in p and p["trace"].get("showlegend", True) is not False
    ]
    shown = chart.layout.get("showlegend")
    if shown is False or (shown is None and len(entries) < 2):
        return []
    for name in ("legend", "legend2"):
        check(chart.layout.get(name) or {}, LEGEND, f"layout.{name}")
    return entries


def legend_orientation(chart: Chart) -> str:
    return (chart.layout.get("legend") or {}).get("orientation", "v")


def entry_width(entry: dict) -> float:
    return SWATCH + 6 + text_width(entry["name"]) + 18


def layout_plot(chart: Chart, bars: list[dict], legend: list[dict]) -> None:
    """The plot area inside what sits around it (tick labels, titles, colour bar, legend), then each axis's
    pixels and range; equal aspect (scaleanchor) last, as Plotly's constrain="range" does."""
    margin = {"l": 10, "r": 10, "t": 10, "b": 10} | (chart.layout.get("margin") or {})
    ys = [a for a in chart.axes.values() if a.letter == "y" and a.visible]
    xs = [a for a in chart.axes.values() if a.letter == "x" and a.visible]
    left = min(margin["l"], 20) + (46 + (22 if any(a.title for a in ys) else 0) if ys else 0)
    # at least 20 px on the right: a tick label centred on the plot's edge reaches past it
    right = max(min(margin["r"], 20), 20) + sum(60 + c["colorbar"].get("thickness", 30) for c in bars)
    vertical = legend and legend_orientation(chart) == "v"
    if vertical:
        right += max(entry_width(e) for e in legend)
    top = min(margin["t"], 10) + 8
    above = [a for a in chart.layout.get("annotations", []) if a.get("yref") == "paper" and a.get("y", 0) >= 1]
    if above or (chart.layout.get("title") or {}).get("text"):
        top += 26
    bottom = min(margin["b"], 20) + (18 if xs else 0) + (20 if any(a.title for a in xs) else 0)
    rows = legend_rows(legend, chart.width - 20) if legend and not vertical else []
    bottom += 22 * len(rows) + (6 if rows else 0)
    chart.legend_rows, chart.plot = rows, (left, top, chart.width - left - right, chart.height - top - bottom)
    px, py, pw, ph = chart.plot
    for a in chart.axes.values():
        lo, hi = a.domain
        a.start, a.length = (px + lo * pw, (hi - lo) * pw) if a.letter == "x" else (py + (1 - hi) * ph, (hi - lo) * ph)
    axis_ranges(chart)
    equal_aspect(chart)


def axis_ranges(chart: Chart) -> None:
    """Each axis's range: the one it gives, else its data's (autorange); matched axes share one."""
    groups: dict[str, list[Axis]] = {}
    for a in chart.axes.values():
        groups.setdefault(a.matches and f"{a.matches[0]}axis{a.matches[1:]}" or a.name, []).append(a)
    for root, members in groups.items():
        members = members + ([chart.axes[root]] if root in chart.axes and chart.axes[root] not in members else [])
        given = next((m.given for m in members if m.given), None)
        if given is None:
            probe = Axis(root, {})
            probe.extents = [e for m in members for e in m.extents]
            probe.length, probe.log = min(m.length for m in members), members[0].log
            given = probe.autorange()
        for m in members:
            m.range = tuple(given)  # a log axis's range is in decades, as Plotly's


def equal_aspect(chart: Chart) -> None:
    """A y axis anchored to an x axis's scale (scaleanchor): the finer of the two widened about its centre."""
    for a in chart.axes.values():
        if a.scaleanchor is None or a.scaleanchor is False:
            continue
        other = chart.axis(a.scaleanchor)
        if a.letter != "y" or other.letter != "x" or a.log or other.log:
            raise Unsupported(f"{a.name}.scaleanchor {a.scaleanchor}")
        per = [abs(b.range[1] - b.range[0]) / b.length for b in (a, other)]  # data units per pixel
        for b, units in zip((a, other), per):
            if units < max(per):
                mid, half = (b.range[0] + b.range[1]) / 2, max(per) * b.length / 2
                b.range = (mid - half, mid + half)


def legend_rows(entries: list[dict], room: float) -> list[list[dict]]:
    rows: list[list[dict]] = [[]]
    used = 0.0
    for e in entries:
        w = entry_width(e)
        if rows[-1] and used + w > room:
            rows.append([])
            used = 0.0
        rows[-1].append(e)
        used += w
    return rows


def drawn_axes(chart: Chart):
    """(axis, (start, end) pixels of the axis it is anchored to, [(pixel, label, major)] of its ticks) of each
    visible axis: an x axis is drawn under its y axis's span, a y axis left of its x axis's."""
    px, py, pw, ph = chart.plot
    for a in chart.axes.values():
        if not a.visible or not a.length:
            continue
        other = chart.axis(a.anchor) if a.anchor else None
        span = (py, py + ph) if a.letter == "x" else (px, px + pw)
        span = (other.start, other.start + other.length) if other else span
        yield a, span, [(float(a.px(10**v if a.log else v)), text, major) for v, text, major in a.ticks()]


def grid_lines(chart: Chart) -> list[str]:
    out = []
    for a, (s0, s1), ticks in drawn_axes(chart):
        for p, _, major in ticks:
            d = f"M{num(p)} {num(s0)}V{num(s1)}" if a.letter == "x" else f"M{num(s0)} {num(p)}H{num(s1)}"
            out.append(f'<path d="{d}" stroke="{GRID}" stroke-width="{1 if major else 0.6}"/>')
    return out


def axes_labels(chart: Chart) -> list[str]:
    """Tick labels (a log axis's 2s and 5s smaller) and axis titles, outside each subplot's rectangle."""
    out = []
    for a, (s0, s1), ticks in drawn_axes(chart):
        if a.letter == "x":
            out += [label(p, s1 + 15, text, FONT if major else FONT - 2, "middle") for p, text, major in ticks]
            if a.title:
                out.append(label(a.start + a.length / 2, s1 + 34, a.title, FONT + 1, "middle", INK))
            continue
        out += [label(s0 - 5, p + 4, text, FONT if major else FONT - 2, "end") for p, text, major in ticks]
        if a.title:
            x = s0 - 5 - max((text_width(t) for _, t, _ in ticks), default=0) - max(a.standoff, 3) - 4
            mid = a.start + a.length / 2
            out.append(label(x, mid, a.title, FONT + 1, "middle", INK, transform=f"rotate(-90 {num(x)} {num(mid)})"))
    return out


def position(chart: Chart, ref: str, value: float, letter: str) -> float:
    """A point's pixel along x or y for Plotly's references: 'paper', 'x2', 'x domain', ..."""
    px, py, pw, ph = chart.plot
    if ref == "paper":
        return px + value * pw if letter == "x" else py + (1 - value) * ph
    if ref.endswith(" domain"):
        a = chart.axis(ref.split()[0])
        return a.start + value * a.length if letter == "x" else a.start + (1 - value) * a.length
    if ref[0] != letter:
        raise Unsupported(f"reference {ref}")
    return float(chart.axis(ref).px(value))


def shapes(chart: Chart) -> list[str]:
    out = []
    for shape in chart.layout.get("shapes", []):
        check(shape, SHAPE, "layout.shapes")
        if shape.get("type") != "line":
            raise Unsupported(f"shape {shape.get('type')}")
        xref, yref = shape.get("xref", "x"), shape.get("yref", "y")
        x0, x1 = (position(chart, xref, shape[k], "x") for k in ("x0", "x1"))
        y0, y1 = (position(chart, yref, shape[k], "y") for k in ("y0", "y1"))
        stroke, width, dash = line_style(shape.get("line") or {}, "#444")
        out.append(
            f'<path d="M{num(x0)} {num(y0)}L{num(x1)} {num(y1)}" stroke="{stroke}" stroke-width="{num(width)}"{dash}/>'
        )
    return out


def annotations(chart: Chart) -> list[str]:
    out = []
    for note in chart.layout.get("annotations", []):
        check(note, ANNOTATION, "layout.annotations")
        if note.get("showarrow", True) is not False:
            raise Unsupported("annotation with an arrow")
        check(note.get("font") or {}, {"size"}, "layout.annotations.font")
        size = float((note.get("font") or {}).get("size", FONT))
        x = position(chart, note.get("xref", "x"), note.get("x", 0), "x")
        y = position(chart, note.get("yref", "y"), note.get("y", 0), "y")
        anchor = {"left": "start", "right": "end"}.get(note.get("xanchor", "center"), "middle")
        lines = words(note.get("text", "")).count("\n") + 1
        dy = {"bottom": -4 - 1.2 * size * (lines - 1), "top": size}.get(note.get("yanchor"), 0.35 * size)
        out.append(label(x, y + dy, note.get("text", ""), size, anchor, INK))
    return out


def draw_colour_bars(chart: Chart, bars: list[dict]) -> list[str]:
    out = []
    px, py, pw, ph = chart.plot
    for c in bars:
        thickness = c["colorbar"].get("thickness", 30)
        left, top, height = px + pw + 20, py + 22, ph - 22
        steps = np.linspace(c["cmax"], c["cmin"], 128)
        strip = np.repeat(scale_colours(c["scale"], steps, c["cmin"], c["cmax"])[:, None, :], 1, 1)
        out.append(
            f'<image href="{png_uri(strip)}" x="{num(left)}" y="{num(top)}" width="{num(thickness)}" '
            f'height="{num(height)}" preserveAspectRatio="none"/>'
        )
        out.append(
            f'<rect x="{num(left)}" y="{num(top)}" width="{num(thickness)}" height="{num(height)}" fill="none" '
            'stroke="#ccc"/>'
        )
        title = (c["colorbar"].get("title") or {}).get("text") or ""
        if title:
            out.append(label(left, py + 12, title, FONT + 1, "start", INK))
        axis = Axis("ybar", {})
        axis.range, axis.start, axis.length = (c["cmin"], c["cmax"]), top, height
        for value, text, _ in axis.ticks():
            p = float(axis.px(value))
            out.append(label(left + thickness + 4, p + 4, text))
    return out


def legend_swatch(x: float, y: float, style: dict) -> str:
    """An entry's sample: its line, its marker in the middle (markers' size held constant, as itemsizing does)."""
    out = ""
    mode, marker = style["mode"], style["marker"]
    if "lines" in mode:
        trace_line = style.get("line") or {}
        stroke, width, dash = line_style(trace_line, style["default"])
        out += f'<path d="M{num(x)} {num(y)}h{SWATCH}" stroke="{stroke}" stroke-width="{num(min(width, 4))}"{dash}/>'
    if "markers" in mode:
        fill, stroke = marker_paint(style)
        colour = "" if fill or style["symbol"] in ("x", "line-ns-open") else f' fill="{style["default"]}"'
        element = marker_path(style["symbol"], x + SWATCH / 2, y, min(float(marker.get("size", 6)), 12))
        out += f"<g{fill}{stroke}{colour}>{element}/></g>"
    return out


def draw_legend(chart: Chart, entries: list[dict]) -> list[str]:
    if not entries:
        return []
    out = []
    px, py, pw, ph = chart.plot
    if legend_orientation(chart) == "v":
        x = chart.width - 10 - max(entry_width(e) for e in entries)
        for i, e in enumerate(entries):
            y = py + 10 + 22 * i
            out.append(legend_swatch(x, y, {**e["style"], "line": e["trace"].get("line")}))
            out.append(label(x + SWATCH + 6, y + 4, e["name"], FONT, "start", INK))
        return out
    y = chart.height - 10 - 22 * len(chart.legend_rows) + 11
    for row in chart.legend_rows:
        x = 10.0
        for e in row:
            out.append(legend_swatch(x, y, {**e["style"], "line": e["trace"].get("line")}))
            out.append(label(x + SWATCH + 6, y + 4, e["name"], FONT, "start", INK))
            x += entry_width(e)
        y += 22
    return out
