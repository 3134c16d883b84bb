"""Every page in zh and in en, as AppTest draws it: every visible text, label, option, placeholder, help, image
caption, table header and chart title / axis / legend / hover / annotation is collected; in zh no run of Latin
letters outside the field's terms may remain, in en no Chinese character (issue 24)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest

from explorer.i18n import CATALOGUES

CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]")
LATIN = re.compile(r"[A-Za-z]+")
# What stays as the field writes it (issue 24), units, file formats and the names of people, papers and tools.
FIELD = {
    "AE", "VAE", "CVAE", "ELBO", "KL", "IWAE", "MSE", "BCE", "PCA", "UMAP", "SNE", "NLL", "ESS", "MLP", "CONV",
    "log", "exp", "MiB",  # nats: 奈特 in Chinese, as the catalogue writes it
    "PNG", "JPEG", "GIF", "CDF", "SVD", "E_q", "Newton",
    "Kingma", "Welling", "Cremer", "Li", "Duvenaud", "README", "Latent", "Explorer",
    "SHA", "mlp", "conv", "cpu", "cuda", "CUDA", "PyTorch", "float",  # as PyTorch and the CLI name them
    "EM", "dz", "ONNX", "Metropolis",  # the EM algorithm; the integral's dz; Metropolis sampling
    "Alemi", "Burda", "Cholesky",  # authors cited (Alemi et al. 2018, Burda et al. 2015); the Cholesky factor
    "Language", "English",  # the language switch is written in both languages
}  # fmt: skip
# Text that is code or data, not words: `code spans`, file and folder names, URLs, Material icons, Plotly's
# hover fields, LaTeX commands, the CLI's flags, set and dataset names (identifiers the user or the bundle chose).
NOT_WORDS = [
    r"`[^`]*`",
    r":material/[a-z_]+:",
    r":[a-z]+\[",  # Streamlit's colour directives (:green[...])
    r"%\{[^}]*\}",
    r"<extra></extra>|<br>",
    r"</?[a-z]+(?:\s[^>]*)?>",  # HTML tags (an inline image's figure: its data: URI, its style)
    r"https?://\S+",
    r"\\[A-Za-z]+",
    r"--[a-z-]+",
    r"[\w.-]*\.(?:safetensors|json|npz|zip|png|gif|py|po|npy|csv|tsv|txt|onnx)\b",
    r"\b(?:runs|checkpoints|lab|training|explorer)/[\w./*-]*",
    r"\bz_?\d+\b|\bcz\d+\b",
    r"\d+(?:\.\d+)?e[-+]?\d+",
    r"\b\d+x\d+\b",
]


TEXT_FIELDS = ("label", "help", "body", "placeholder", "options", "caption", "text", "value")


def proto_strings(message, texts: list[str]) -> None:
    """The text fields of an element's protobuf (and of the messages inside it); a chart's spec parsed."""
    for field, value in message.ListFields():
        repeated = not isinstance(value, (str, bytes)) and not hasattr(value, "ListFields")
        for item in list(value) if repeated and hasattr(value, "__iter__") else [value]:
            if hasattr(item, "ListFields"):
                proto_strings(item, texts)
            elif field.name == "spec" and isinstance(item, str):
                texts.extend(figure_texts(json.loads(item)))
            elif field.name == "body" and isinstance(item, str) and item.startswith(STATIC_CHART):
                texts.extend(svg_texts(item))
            elif field.name in TEXT_FIELDS and isinstance(item, str):
                texts.append(item)


def visible_texts(at) -> list[str]:
    """Every string a reader can see or hover in the app as AppTest holds it (main area and sidebar)."""
    texts: list[str] = []
    for root in (at.main, at.sidebar):
        for node in walk(root):
            proto = getattr(node, "proto", None)
            kind = getattr(node, "type", "")
            if proto is None or kind in ("latex", "code"):
                continue
            if kind == "arrow_data_frame":
                texts.extend(str(c) for c in node.value.columns)
                texts.extend(str(v) for v in node.value.astype(str).to_numpy().ravel())
                continue
            proto_strings(proto, texts)
    return [t for t in texts if t]


def walk(node):
    yield node
    for child in getattr(node, "children", {}).values():
        yield from walk(child)


def figure_texts(spec: dict) -> list[str]:
    """A Plotly figure's words: trace names and hover templates, titles, axis titles, annotations."""
    out = []

    def visit(value, key=""):
        if isinstance(value, dict):
            for k, v in value.items():
                visit(v, k)
        elif isinstance(value, list):
            if key in ("text", "customdata", "x", "y", "z"):
                return  # data, not words (the ESS labels are numbers)
            for v in value:
                visit(v, key)
        elif isinstance(value, str) and key in ("text", "name", "hovertemplate", "title"):
            out.append(value)

    figure = spec.get("fig") or spec
    visit({"data": json.loads(figure) if isinstance(figure, str) else figure})
    return out


STATIC_CHART = '<div class="le-chart">'  # explorer/ui/bridge.static_chart: a chart as inline SVG


def svg_texts(body: str) -> list[str]:
    """A static chart's words: its text (titles, ticks, legend, annotations), each point's hover <title> and
    its aria-label; the markup and its attributes (a raster's data: URI) left out."""
    root = ET.fromstring(body)
    return [t for e in root.iter() for t in (e.text, e.get("aria-label")) if t and t.strip()]


def english_left(texts: list[str], names: set[str]) -> set[str]:
    """Latin words in texts that are neither a field term nor part of code, a file or an identifier."""
    found = set()
    for text in texts:
        for pattern in NOT_WORDS:
            text = re.sub(pattern, " ", text)
        for name in sorted(names, key=len, reverse=True):
            text = text.replace(name, " ")
        found |= {w for w in LATIN.findall(text) if len(w) > 1 and w not in FIELD}
    return found


BASE = "explorer/ui/pages/"
PAGES = ["latent_map", "decoder", "drag", "compare", "manifold", "inference", "half_moon", "conditional", "train"]
PAIRS = {"moons": "moons-sparse-2d", "digits": "digits-2d", "mnist5k": "mnist5k-2d"}
# Each walk: the sidebar's dataset and pair, and the pages whose words change with them. The Conditional page (every
# conditional set, through its choosers) and the Train page read no pair: walked once, beside moons. digits-8d
# adds what only a code of more than two dimensions shows (the map's projection form, the grid's dimensions).
WALKS = {
    "moons": ("moons", "moons-sparse-2d", PAGES),
    "digits": ("digits", "digits-2d", PAGES[:-2]),
    "mnist5k": ("mnist5k", "mnist5k-2d", PAGES[:-2]),
    "digits-8d": ("digits", "digits-8d", ["latent_map", "decoder", "compare"]),
}


def identifiers(pair: str) -> set[str]:
    """Names the app shows as the user or the bundle wrote them: datasets, sets, runs."""
    from training.datasets import DATASETS
    from training.store import find_sets

    sets = {*find_sets("pair"), *find_sets("conditional")}
    return {pair, *DATASETS, *sets, *(s.split("/")[-1] for s in sets)}


def walk_pages(app, lang: str, walk: str) -> dict[str, tuple[list[str], set[str]]]:
    """Every page of the walk as opened and after each option of each of its choosers."""
    dataset, pair, pages = WALKS[walk]
    names = identifiers(pair)
    out = {}
    for page in pages:
        at = app(BASE + page + ".py", lang=lang, dataset=dataset, pair=pair)
        seen = choose_everything(at, page)
        assert all(len(texts) > 10 for texts in seen.values()), (page, seen)
        out |= {state: (texts, names) for state, texts in seen.items()}
    return out


def check(lang: str, walked: dict) -> None:
    if lang == "zh":
        left = {page: english_left(texts, names) for page, (texts, names) in walked.items()}
        assert not any(left.values()), {p: sorted(w) for p, w in left.items() if w}
        untranslated = CATALOGUES["zh"]["err_untranslated"].split("{")[0]  # an error shown without its key
        quoted = {page: [t for t in texts if untranslated in t] for page, (texts, _) in walked.items()}
        assert not any(quoted.values()), quoted
    else:
        allowed = {CATALOGUES["zh"][k] for k in ()} | {"中文", "语言"}
        cjk = {
            page: [t for t in texts if CJK.search(re.sub("|".join(allowed), "", t))]
            for page, (texts, _) in walked.items()
        }
        assert not any(cjk.values()), cjk


# --- every option of every chooser (issue 24: radios, selectboxes, segmented controls, select sliders) -------------
CHOOSERS = ("radio", "selectbox", "segmented_control", "select_slider")
# The sidebar's dataset and pair are walked one pair at a time (PAIRS), the language switch by the lang parameter,
# the tour's steps one by one above.
NOT_CHOSEN = ("dataset", "pair", "lang", "step")


def choose(widget, option: str) -> None:
    """Select an option by the label the reader sees, as the browser sends it (the widget's format_func leaves
    a label as it is: passed through it, a label would not map back)."""
    from streamlit.runtime.state.common import TESTING_KEY

    formats, labels = widget.root.session_state[TESTING_KEY], set(widget.options)
    formats[widget.id] = lambda v, f=formats[widget.id]: v if v in labels else f(v)
    widget.set_value(option)


def selected(widget) -> list[str]:
    """The labels a chooser shows as chosen."""
    try:
        if widget.type == "button_group":
            return list(widget.formatted_values)
        return [widget.options[widget.index]] if widget.type != "select_slider" else []
    except (TypeError, ValueError, KeyError, IndexError):
        return []


def choose_everything(at, page: str) -> dict[str, list[str]]:
    """The page's texts as opened, then after choosing each option of each chooser once (in the order the page
    shows them; choices stay made, so each option is seen once, not every combination)."""
    seen = {page: visible_texts(at)}
    done: set[tuple[str, str]] = set()
    while True:
        widgets = [w for kind in CHOOSERS for w in getattr(at, kind) if w.key and w.key not in NOT_CHOSEN]
        done |= {(w.key, o) for w in widgets for o in selected(w)}  # what is shown is seen
        todo = [(w, o) for w in widgets if not w.disabled for o in w.options if (w.key, o) not in done]
        if not todo:
            return seen
        widget, option = todo[0]
        done.add((widget.key, option))
        choose(widget, option)
        at.run()
        assert not at.exception, (page, widget.key, option, at.exception)
        seen[f"{page} · {widget.key}={option}"] = visible_texts(at)


def test_the_checks_catch_what_they_are_for():
    assert english_left(["月相 0.100，AE 的编码 z = (1.0, 2.0)"], set()) == set()
    assert english_left(["选一个 pair，`python -m training eval` 重新计算"], set()) == {"pair"}
    assert english_left(["moons-sparse-2d 的 phase"], {"moons-sparse-2d"}) == {"phase"}
    assert english_left(["%{customdata[1]} 编号<extra></extra>"], set()) == set()
    # a static chart's legend, hover text and label are read from its SVG, its markup is not
    import plotly.graph_objects as go

    from explorer.svg_figure import figure_svg

    fig = go.Figure(go.Scatter(x=[0.5], y=[1], name="test codes", hovertemplate="编号 %{x:.2f} phase"))
    body = STATIC_CHART + figure_svg(fig.update_layout(showlegend=True), "潜在空间") + "</div>"
    assert {"编号 0.50 phase", "test codes", "潜在空间"} <= set(svg_texts(body))
    assert english_left(svg_texts(body), set()) == {"test", "codes", "phase"}


@pytest.mark.slow  # every page and option, per walk and language: 30 s (digits-8d) to 2 min (moons) of AppTest
@pytest.mark.parametrize("walk", list(WALKS))
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_page_and_option_speaks_one_language(app, lang, walk):
    walked = walk_pages(app, lang, walk)
    assert len(walked) > len(WALKS[walk][2]), list(walked)  # options were chosen, not only the pages opened
    check(lang, walked)


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_tour_step_and_option_speaks_one_language(app, lang):
    from explorer import tour

    names = identifiers("moons-sparse-2d") | {"moons-sparse-1d"}
    walked = {}
    for step in range(1, tour.STEPS + 1):
        at = app(BASE + "tour.py", lang=lang, dataset="moons", pair="moons-sparse-2d", step=str(step))
        walked |= {state: (texts, names) for state, texts in choose_everything(at, f"tour {step}").items()}
    assert any("tour_moon=" in s for s in walked) and any("tour_k=" in s for s in walked), list(walked)
    check(lang, walked)


# --- behind every button, toggle and checkbox (issue 24: the sections the first look does not open) ---------------
# Expanders and tabs need no opening: their contents are in the page as AppTest draws it, open or not.
# train_submit starts a run (the walk starts its own, a running and a failed one); remove_yes_ deletes a run's
# folder (the tests' shared tiny pairs): its question (remove_) is walked, not the deletion.
NOT_PRESSED = ("train_submit", "remove_yes_")


def press_everything(at, page: str) -> dict[str, list[str]]:
    """The page's texts as opened, then after pressing each enabled button and flipping each toggle and checkbox
    it shows (one at a time, in the order they appear, widgets a press reveals included)."""
    seen = {page: visible_texts(at)}
    pressed: set[str] = set()
    while True:
        widgets = [*at.button, *at.toggle, *at.checkbox]
        todo = [w for w in widgets if w.key and w.key not in pressed and not w.key.startswith(NOT_PRESSED)]
        todo = [w for w in todo if not w.disabled]
        if not todo:
            return seen
        widget = todo[0]
        pressed.add(widget.key)
        (widget.click() if widget.type == "button" else widget.set_value(not widget.value)).run()
        assert not at.exception, (page, widget.key, at.exception)
        seen[f"{page} · {widget.key}"] = visible_texts(at)


@pytest.mark.slow  # every page of the moons pair in zh, each control pressed: about two minutes of AppTest
def test_every_section_behind_a_button_or_toggle_speaks_chinese(app, app_runs, tmp_path, monkeypatch):
    """The Inference page's split over 100 test images (4 here: the same code and words, seconds not minutes) and
    each posterior family's split (3 here), the latent map's ellipses, the Drag page's in-server decoding, the
    Train page's checkpoint loader and a run's Cancel, the first-visit hint's dismissal; and the Train page with
    one run training and one failed."""
    import shutil

    import explorer.inference
    import training.families
    from tests.helpers import in_process_workers, slow_run, tiny_run, wait
    from training import jobs

    runs = tmp_path / "runs"  # its own runs/ (the session's app_runs stay as other tests expect them)
    shutil.copytree(app_runs, runs)
    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(runs))
    names = identifiers(PAIRS["moons"]) | {"too-slow", "training-now"}
    real = explorer.inference.split_gaps
    monkeypatch.setattr(explorer.inference, "split_gaps", lambda vae, x, n=100: real(vae, x, 4))
    monkeypatch.setattr(training.families, "SPLIT_N", 3)  # each family's split: 3 images, not 30 (minutes inline)
    in_process_workers(monkeypatch)
    monkeypatch.setattr(jobs, "MAX_RUN_SECONDS", 0)
    failed = wait(jobs.start_job(tiny_run(), runs, name="too-slow"))  # stopped at the time limit
    assert failed.status == "failed" and failed.error is not None, failed.message
    monkeypatch.setattr(jobs, "MAX_RUN_SECONDS", 600)
    running = jobs.start_job(slow_run(), runs, name="training-now")

    walked = {}
    for page in PAGES:
        at = app(BASE + page + ".py", lang="zh", dataset="moons", pair=PAIRS["moons"])
        walked |= press_everything(at, page)
    for run in (failed.run_id, running.run_id):  # the run panel of each (the list shows both on every visit)
        at = app(BASE + "train.py", lang="zh", dataset="moons", pair=PAIRS["moons"], run=run)
        walked |= press_everything(at, f"train run={run}")
    assert any(k.endswith("cancel_training-now") for k in walked), list(walked)  # the run list's Cancel pressed
    assert any("inference_split" in k for k in walked) and any("ckpt_load" in k for k in walked), list(walked)
    check("zh", {page: (texts, names) for page, texts in walked.items()})
    assert jobs.get_run(running.run_id, runs).status in ("cancelled", "running")  # Cancel asked it to stop
