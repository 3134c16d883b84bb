"""The catalogues (explorer/i18n/*.po): the same keys and placeholders in every language, every key the
code names present, every key present named by the code, and the language chosen once and kept."""

from __future__ import annotations

import ast
import json
import re
import string
from pathlib import Path

import pytest

from explorer.i18n import CATALOGUES, LANGUAGES, language_of, tr

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [ROOT / "app.py", *sorted((ROOT / "explorer").rglob("*.py")), *sorted((ROOT / "training").rglob("*.py"))]
CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]")  # ideographs, CJK punctuation


def placeholders(text: str) -> set[str]:
    """The str.format fields of text, with their format specs ("{x:.2f}" -> "x:.2f")."""
    return {f"{name}:{spec}" for _, name, spec, _ in string.Formatter().parse(text) if name is not None}


def literals() -> tuple[set[str], list[re.Pattern]]:
    """Every string constant in the code, and a pattern for every f-string or "prefix_" + name (a key
    the code builds: f"s{step}_title", "regime_" + regime)."""
    found: set[str] = set()
    patterns: list[re.Pattern] = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.add(node.value)
            elif isinstance(node, ast.JoinedStr):
                parts = [re.escape(v.value) if isinstance(v, ast.Constant) else ".+" for v in node.values]
                patterns.append(re.compile("".join(parts)))
            elif (
                isinstance(node, ast.BinOp)
                and isinstance(node.op, ast.Add)
                and isinstance(node.left, ast.Constant)
                and isinstance(node.left.value, str)
            ):
                patterns.append(re.compile(re.escape(node.left.value) + ".+"))
    return found, patterns


def named_keys() -> set[str]:
    """Keys passed as a literal to t(...) / tr(lang, ...) / c.t(...) anywhere in the code."""
    keys = set()
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            position = {"t": 0, "tr": 1}.get(name)
            if position is None or len(node.args) <= position:
                continue
            arg = node.args[position]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                keys.add(arg.value)
    return keys


def test_every_language_has_the_same_keys_and_placeholders():
    en = CATALOGUES["en"]
    assert len(en) > 100
    for lang in LANGUAGES:
        catalogue = CATALOGUES[lang]
        assert set(catalogue) == set(en), (lang, set(catalogue) ^ set(en))
        differ = {k: (en[k], catalogue[k]) for k in en if placeholders(en[k]) != placeholders(catalogue[k])}
        assert not differ, (lang, differ)
        assert all(text.strip() or key == "empty" for key, text in catalogue.items()), lang


def test_english_has_no_chinese_and_chinese_is_chinese():
    assert not [k for k, text in CATALOGUES["en"].items() if CJK.search(text)]
    # every zh text with words in it has Chinese (a key left in English would have none)
    words = {k: re.sub(r"\{[^}]*\}", "", text) for k, text in CATALOGUES["zh"].items()}  # placeholders out
    latin_only = [k for k, text in words.items() if re.search(r"[A-Za-z]{4,}", text) and not CJK.search(text)]
    assert set(latin_only) <= ALLOWED_LATIN_ONLY, set(latin_only) - ALLOWED_LATIN_ONLY


# Texts that are the same in both languages: symbols and the field's names.
ALLOWED_LATIN_ONLY: set[str] = set()


def test_every_key_the_code_names_exists_and_every_key_is_used():
    missing = named_keys() - set(CATALOGUES["en"])
    assert not missing, missing
    found, patterns = literals()
    unused = [k for k in CATALOGUES["en"] if k not in found and not any(p.fullmatch(k) for p in patterns)]
    assert not unused, unused


def test_a_format_mistake_is_caught_by_the_placeholder_check():
    assert placeholders("{a:.2f} and {b}") == {"a:.2f", "b:"}
    assert placeholders("{a:.2f} and {b}") != placeholders("{a} and {b}")


@pytest.mark.parametrize(
    "locale, lang",
    [("zh-CN", "zh"), ("zh-Hans-TW", "zh"), ("zh", "zh"), ("en-US", "en"), ("fr-FR", "en"), (None, "en"), ("", "en")],
)
def test_the_browser_locale_picks_the_catalogue(locale, lang):
    assert language_of(locale) == lang


def test_tr_formats_and_an_unknown_language_falls_back_to_english():
    assert tr("xx", "nav_map") == CATALOGUES["en"]["nav_map"]
    assert tr("zh", "item_phase", phase=0.5) == "月相 0.500"


# --- errors raised in training/ reach the page in the reader's language ----------------------------------------

TRAIN = "explorer/ui/pages/train.py"


@pytest.fixture
def train_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("LATENT_EXPLORER_UPLOADS", str(tmp_path / "uploads"))
    return tmp_path


def chinese_error(at, lead_key: str, key: str, **values) -> str:
    """The page's one error: the lead-in and the keyed message, both from the zh catalogue, no Latin words."""
    from tests.test_i18n_walk import english_left

    errors = [e.value for e in at.error]
    assert len(errors) == 1, errors
    lead = CATALOGUES["zh"][lead_key].split("{")[0]
    assert errors[0].startswith(lead) and CATALOGUES["zh"][key].split("{")[0] in errors[0], errors
    assert english_left(errors, set(values.values())) == set(), errors
    return errors[0]


def test_a_hostile_upload_is_refused_in_chinese(train_dirs):
    from tests.helpers import open_app, zip_with

    at = open_app(TRAIN, lang="zh", dataset="moons", pair="moons-sparse-2d")
    hostile = zip_with([("../../evil.png", b"x")])
    at.file_uploader(key="upload_data").set_value(("evil.zip", hostile, "application/zip")).run()
    chinese_error(at, "data_not_imported", "err_zip_outside", name="evil.zip", entry="'../../evil.png'")


def test_a_bad_checkpoint_is_refused_in_chinese(train_dirs, tiny_pair_dir, monkeypatch):
    import os
    import shutil

    from tests.helpers import open_app

    broken = train_dirs / "broken"
    shutil.copytree(tiny_pair_dir, broken)
    (broken / "vae.safetensors").write_bytes((broken / "ae.safetensors").read_bytes())  # the AE's weights
    monkeypatch.setenv("LATENT_EXPLORER_IMPORT_ROOTS", os.pathsep.join([str(train_dirs)]))
    at = open_app(TRAIN, lang="zh", dataset="moons", pair="moons-sparse-2d")
    at.text_input(key="ckpt_path").set_value(str(broken))
    at.button(key="ckpt_load").click().run()
    chinese_error(at, "ckpt_not_loaded", "err_weights_sha", name="vae.safetensors")
    assert not (train_dirs / "runs" / "broken").exists()  # nothing half-copied


def test_an_over_budget_training_request_is_refused_in_chinese(train_dirs):
    from tests.helpers import open_app, wait
    from tests.test_i18n_walk import english_left
    from training import jobs

    at = open_app(TRAIN, lang="zh", dataset="moons", pair="moons-sparse-2d")
    at.text_input(key="train_hidden").set_value("4096,4096,4096,4096")  # about 50 M parameters
    at.button(key="train_submit").click().run()
    (job,) = jobs.list_runs()  # refused once its data fixes the input size: the run fails, with the reason
    job = wait(job)  # as its folder says (the worker process keeps the error's key in job.json)
    assert job.status == "failed" and job.error.key == "err_budget_params", job.message
    at.run()
    said = [m.value for m in at.markdown if job.run_id in m.value]
    lead = CATALOGUES["zh"]["err_budget_params"].split("{")[0]
    assert said and lead in said[0] and english_left(said, {job.run_id}) == set(), said
    assert not list((train_dirs / "runs" / job.run_id).glob("*.safetensors"))  # nothing saved


def test_english_errors_read_as_the_cli_prints_them():
    """A keyed error's English catalogue text is its message: the English app is unchanged, the CLI English."""
    from tests.helpers import zip_with
    from training import uploads
    from training.errors import LatentExplorerError

    cases = []
    for data in (zip_with([("../evil.png", b"x")]), b"", b"not a zip at all"):
        try:
            uploads.import_upload("up.zip", data, Path("/nonexistent-uploads"))
        except LatentExplorerError as exc:
            cases.append(exc)
    assert len(cases) == 3 and all(exc.key for exc in cases), cases
    for exc in cases:
        values = {k: str(v) if isinstance(v, BaseException) else v for k, v in exc.values.items()}
        assert tr("en", exc.key, **values) == str(exc), (exc.key, str(exc))


# --- every error training/ raises carries a key, and its English is the catalogue's ------------------------------

TRAINING = sorted((ROOT / "training").rglob("*.py"))


def _called(call: ast.Call) -> str:
    return call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")


def error_classes(trees) -> set[str]:
    """LatentExplorerError and every class training/ derives from it (by name, across modules)."""
    names = {"LatentExplorerError"}
    classes = [n for tree in trees for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]
    while True:
        more = {c.name for c in classes if any(getattr(b, "id", getattr(b, "attr", "")) in names for b in c.bases)}
        if more <= names:
            return names
        names |= more


def raisers(trees, classes: set[str]) -> dict[str, int]:
    """Helpers that raise an error with the key their caller passes (schema._fail(where, why, key=...)): name ->
    the position of the English words among their arguments."""
    found = {}
    for tree in trees:
        for fn in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
            for node in ast.walk(fn):
                if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and _called(node.exc) in classes:
                    keys = [k.value for k in node.exc.keywords if k.arg == "key"]
                    if keys and isinstance(keys[0], ast.Name) and keys[0].id == "key":
                        found[fn.name] = [a.arg for a in fn.args.args].index("why")
    return found


def error_sites(paths):
    """(where, call, position of its English message) for every error raised in paths and every call of a
    helper that raises one; the helpers' own raise (key=key) is left out."""
    trees = {path: ast.parse(path.read_text(encoding="utf-8")) for path in paths}
    classes = error_classes(trees.values())
    helpers = raisers(trees.values(), classes)
    sites = []
    for path, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and _called(node.exc) in classes:
                keys = [k.value for k in node.exc.keywords if k.arg == "key"]
                if not (keys and isinstance(keys[0], (ast.Name, ast.Attribute))):  # key=key, key=exc.key: passed on
                    sites.append((f"{path.name}:{node.lineno}", node.exc, 0))
            elif isinstance(node, ast.Call) and _called(node) in helpers:
                sites.append((f"{path.name}:{node.lineno}", node, helpers[_called(node)]))
    return sites


def english_template(message: ast.expr, values: dict[str, ast.expr]) -> str | None:
    """The catalogue text a message's f-string stands for, each {expression} named by the value passed for it
    (repr(x) for {x!r}, x or str(x) for {x}); None when an expression is passed under no name."""
    parts = message.values if isinstance(message, ast.JoinedStr) else [message]
    named = {ast.dump(v): k for k, v in values.items()}
    named |= {ast.dump(v.args[0]): k for k, v in values.items() if isinstance(v, ast.Call) and _called(v) == "str"}
    text = ""
    for part in parts:
        if isinstance(part, ast.Constant):
            text += part.value.replace("{", "{{").replace("}", "}}")
            continue
        shown = ast.Call(ast.Name("repr", ast.Load()), [part.value], []) if part.conversion == ord("r") else part.value
        name = named.get(ast.dump(shown))
        if name is None:
            return None
        spec = "".join(c.value for c in part.format_spec.values) if part.format_spec else ""
        text += "{" + name + (":" + spec if spec else "") + "}"
    return text


def key_problems(sites) -> list[tuple]:
    """What is wrong with each error site: no catalogue key, values other than its text's placeholders (the app
    could not format it), or an English text other than the message the CLI prints."""
    en = CATALOGUES["en"]
    problems = []
    for where, call, position in sites:
        values = {k.arg: k.value for k in call.keywords}
        key = values.pop("key", None)
        if not (isinstance(key, ast.Constant) and key.value in en):
            problems.append((where, "no catalogue key", ast.unparse(key) if key else None))
            continue
        values |= dict(zip(["where"][:position], call.args[:position], strict=True))  # _fail(where, why, ...)
        wanted = {p.split(":")[0] for p in placeholders(en[key.value])}
        if set(values) != wanted:
            problems.append((where, key.value, "values", sorted(values), "placeholders", sorted(wanted)))
            continue
        message = call.args[position] if len(call.args) > position else None
        if isinstance(message, (ast.JoinedStr, ast.Constant)):
            words = english_template(message, {k: v for k, v in values.items() if k != "where"})
            english = ("{where}: " if position else "") + str(words)
            if words is None or english != en[key.value]:
                problems.append((where, key.value, "English differs", english, en[key.value]))
    return problems


def test_every_error_raised_in_training_carries_a_key_and_its_values():
    """An error without a key reaches a zh reader in English (training/errors.py): every raise in training/ and
    every call of a helper that raises names a catalogue key, passes exactly its placeholders, and the key's
    English text is the message the CLI prints."""
    sites = error_sites(sorted((ROOT / "training").rglob("*.py")))
    assert len(sites) > 200, len(sites)  # the scan sees the raises (a broken scan would pass on none)
    problems = key_problems(sites)
    assert not problems, "\n".join(map(str, problems))


def test_the_key_scan_catches_each_kind_of_mistake(tmp_path):
    module = tmp_path / "bad.py"
    module.write_text(
        "class E(LatentExplorerError):\n    pass\n"
        "class F(E):\n    pass\n"
        "def fail(where, why, *, key, **values):\n    raise F(f'{where}: {why}', key=key, where=where, **values)\n"
        "raise F(f'{n} things')\n"  # 7: no key
        "raise E(f'{n} things', key='err_zip_empty', n=n)\n"  # 8: the key's text has no {n}
        "raise E('the zip holds files', key='err_zip_empty')\n"  # 9: English other than the catalogue's
        "raise E('the zip holds no files', key='err_zip_empty')\n"  # 10: right
        "fail('x', 'missing', key='err_schema_missing')\n"  # 11: right
        "fail('x', 'missing', key='err_schema_missing', n=1)\n"  # 12: a value the text has no place for
    )
    found = {int(p[0].split(":")[1]): p[1:3] for p in key_problems(error_sites([module]))}
    assert found == {
        7: ("no catalogue key", None),
        8: ("err_zip_empty", "values"),
        9: ("err_zip_empty", "English differs"),
        12: ("err_schema_missing", "values"),
    }, found


def test_a_run_records_why_it_failed_as_keys_and_reads_back_only_what_it_writes():
    """job.json keeps a failure as key + values (nested for its phase), and the reader refuses anything else."""
    from functools import partial

    from explorer.i18n import error_words
    from training.errors import Phrase, TrainingError, from_record, record
    from training.jobs import phase_words, unsaved

    why = TrainingError(
        "its worker process (7) ended while ...",
        key="err_run_died",
        pid=7,
        phase=phase_words({"name": "measuring", "kind": "vae", "what": "ELBO"}),
        how=Phrase("killed by signal 9", "run_how_signal", signal=9),
    )
    failed = from_record(json.loads(json.dumps(record(unsaved(why)))))
    assert (
        error_words(partial(tr, "zh"), failed)
        == "训练进程（7）在评估 VAE（证据下界）时结束了（被信号 9 终止）；没有保存任何内容"
    )
    english = "its worker process (7) ended while measuring the VAE (ELBO) (killed by signal 9); nothing was saved"
    assert error_words(partial(tr, "en"), failed) == english
    for hostile in (
        None,
        [],
        {"key": 3, "values": {}},
        {"key": "k", "values": {"a": [1]}},
        {"key": "k" * 101, "values": {}},
    ):
        assert from_record(hostile) is None, hostile
    deep = {"key": "err_run_unsaved", "values": {}}
    for _ in range(5):
        deep = {"key": "err_run_unsaved", "values": {"error": deep}}
    assert from_record(deep) is None
    unknown = from_record({"key": "no_such_key", "values": {"x": "<b>"}})  # formats as the untranslated lead-in
    assert error_words(partial(tr, "zh"), unknown) == tr("zh", "err_untranslated", detail=tr("zh", "quoted_error"))


# --- text from outside: what failed in the reader's words first, the text itself collapsed below --------------------
def tiny_graph(op: str) -> bytes:
    from onnx import TensorProto, helper

    io = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 2]) for n in ("x", "y")]
    graph = helper.make_graph([helper.make_node(op, ["x"], ["y"])], "g", io[:1], io[1:])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


def onnx_failures() -> dict[str, Exception]:
    """onnxruntime's own failures, one of each class (out of memory as onnxruntime words it: no cheap real one)."""
    import numpy as np

    from training.errors import LatentExplorerError
    from training.onnxset import Graph, _stopped_because

    found = {}
    for key, raw in (("onnx_fail_invalid_graph", b"not a model"), ("onnx_fail_unsupported_op", tiny_graph("Nope"))):
        with pytest.raises(LatentExplorerError) as caught:
            Graph(raw, "encoder.onnx", {"y": "y"})
        found[key] = caught.value
    with pytest.raises(LatentExplorerError) as caught:
        Graph(tiny_graph("Identity"), "decoder.onnx", {"y": "y"})(np.zeros((1, 3), np.float32), {"y": (2,)})
    found["onnx_fail_type_shape"] = caught.value
    memory = RuntimeError("[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Failed to allocate memory for requested buffer")
    found["onnx_fail_memory"] = LatentExplorerError(
        key="err_onnx_stopped", name="d", why=_stopped_because(memory, False)
    )
    return found


def test_onnxruntime_failures_are_named_by_class_and_their_text_only_quoted():
    from functools import partial

    from explorer.i18n import error_words
    from training.errors import Quoted, from_record, originals, record

    for key, exc in onnx_failures().items():
        raw = originals(exc)
        assert len(raw) == 1 and raw[0].startswith("[ONNXRuntimeError]"), (key, raw)
        quoted = next(v for v in exc.values.values() if isinstance(v, Quoted))
        assert quoted.key == key, (key, str(exc))
        for lang in ("zh", "en"):
            shown = error_words(partial(tr, lang), exc)
            assert tr(lang, key) in shown and "ONNXRuntimeError" not in shown, (lang, shown)
        assert english_left_of(error_words(partial(tr, "zh"), exc)) <= {"onnxruntime", "encoder", "decoder", "onnx"}
        assert raw[0] in str(exc) or not str(exc)  # the CLI's English line quotes it as before
        again = from_record(record(exc))  # a run's job.json keeps the text and its class
        assert originals(again) == raw and error_words(partial(tr, "zh"), again) == error_words(partial(tr, "zh"), exc)


def english_left_of(text: str) -> set[str]:
    from tests.test_i18n_walk import english_left

    return english_left([text], set())


def test_an_error_quoting_outside_text_shows_chinese_first_and_the_text_collapsed(monkeypatch):
    """The app's error box says what failed in Chinese; the original text sits in a collapsed 原文 detail; a
    Python error the app has no words for reads the same way."""
    from streamlit.testing.v1 import AppTest

    def page():
        import streamlit as st

        from explorer.ui.lang import error_text, show_error, t
        from tests.test_i18n import onnx_failures

        st.session_state["lang"] = "zh"
        exc = onnx_failures()["onnx_fail_unsupported_op"]
        show_error(t("err_open_set", set="s", error=error_text(exc)), exc)
        show_error(
            t("map_failed", error=error_text(ValueError("perplexity must be less than n_samples"))),
            ValueError("perplexity must be less than n_samples"),
        )

    at = AppTest.from_function(page, default_timeout=60).run()
    assert not at.exception, at.exception
    assert len(at.error) == 2 and all(
        not english_left_of(e.value) - {"onnxruntime", "encoder", "onnx"} for e in at.error
    ), [e.value for e in at.error]
    assert CATALOGUES["zh"]["onnx_fail_unsupported_op"] in at.error[0].value
    assert CATALOGUES["zh"]["quoted_error"] in at.error[1].value
    assert [e.label for e in at.expander] == [CATALOGUES["zh"]["original_text"]] * 2
    assert (
        "No Op registered for Nope" in at.code[0].value and at.code[1].value == "perplexity must be less than n_samples"
    )
    assert not any(e.proto.expanded for e in at.expander)
