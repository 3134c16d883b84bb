"""Run folders: where model sets live, how they are named, found, loaded, imported and written.

A set is a folder of checkpoints that belong together: a pair (ae + vae) or a conditional set
(cvae + regression). Bundled sets live in checkpoints/ and are named by their folder; trained
and imported ones live in runs/ (or $LATENT_EXPLORER_RUNS) and are named "runs/<folder>".
Every folder is written through staged_dir(): a hidden sibling renamed into place when complete,
so a listing never shows half a set. Sidecars are read by checkpoint.read_sidecar only.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import functools
import itertools
import json
import logging
import math
import os
import re
import shutil
import tempfile
import threading
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Literal, NamedTuple

from . import embeddings
from .checkpoint import Checkpoint, load_checkpoint, read_sidecar
from .config import RunConfig
from .datasets import Dataset
from .errors import CheckpointError, LatentExplorerError, Phrase, from_record, not_written
from .kinds import CONDITIONAL_KINDS, PAIR_KINDS
from .limits import check_path_text
from .onnxset import MANIFEST, OnnxModel, is_pair, load_onnx_members, read_manifest

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "checkpoints"
# Where runs/ and uploads/ go and what paths may be read: the project in a source tree; once installed
# (pip: ROOT is site-packages), the folder the command was started in.
HOME = ROOT if (ROOT / "pyproject.toml").is_file() else Path.cwd()
RUN_PREFIX = "runs/"
STAGING_SUFFIX = ".staging"
SetKind = Literal["pair", "conditional", "onnx"]  # onnx: an ONNX set that is not a full pair
SET_KINDS: dict[str, tuple[str, ...]] = {"pair": PAIR_KINDS, "conditional": CONDITIONAL_KINDS}
LEADS = {"pair": "vae", "conditional": "cvae"}  # the member whose configs speak for the set


# --- roots and ids ---------------------------------------------------------------------------------


def runs_dir() -> Path:
    """Where trained and imported sets are kept: runs/ in the project, or $LATENT_EXPLORER_RUNS."""
    return Path(os.environ.get("LATENT_EXPLORER_RUNS", HOME / "runs"))


def uploads_dir() -> Path:
    """Where uploaded datasets are kept: uploads/ in the project, or $LATENT_EXPLORER_UPLOADS."""
    return Path(os.environ.get("LATENT_EXPLORER_UPLOADS", HOME / "uploads"))


def import_roots() -> list[Path]:
    """Folders a set may be loaded from by path: the project, or $LATENT_EXPLORER_IMPORT_ROOTS
    (separated by ':'). A stranger on a shared server cannot make the app read anywhere else."""
    env = os.environ.get("LATENT_EXPLORER_IMPORT_ROOTS")
    roots = [Path(p) for p in env.split(os.pathsep) if p] if env else [HOME]
    return [r.resolve() for r in roots]


def _inside(text: str, roots: list[Path], what: str) -> Path:
    """The resolved path if it lies inside one of the roots; LatentExplorerError otherwise."""
    check_path_text(text, what)  # NUL and control characters, over-long text: before Path() sees it
    path = Path(text).expanduser().resolve()  # symlinks and .. resolved before the check
    if not any(path == root or root in path.parents for root in roots):
        raise LatentExplorerError(
            f"{what} {text[:200]!r}: paths are limited to {', '.join(str(r) for r in roots)} "
            "(set LATENT_EXPLORER_IMPORT_ROOTS to allow more), or upload the files",
            key="err_store_paths_limited_set",
            what=what,
            text=repr(text[:200]),
            choices=", ".join(str(r) for r in roots),
        )
    return path


def allowed_path(text: str) -> Path:
    """The resolved path if it lies inside an import root; LatentExplorerError otherwise."""
    return _inside(text, import_roots(), Phrase("path", "word_path"))


def safe_name(text: str) -> str:
    """Letters, digits, dot, dash and underscore only: a folder name can never leave its root."""
    cleaned = re.sub(r"\.{2,}", ".", re.sub(r"[^A-Za-z0-9._-]+", "-", text)).strip(".-")
    return cleaned[:60] or "run"


def set_path(set_id: str) -> Path:
    """A bundled set's id is its folder name; a trained one's is runs/<folder>."""
    if set_id.startswith(RUN_PREFIX):
        return runs_dir() / set_id[len(RUN_PREFIX) :]
    return BUNDLED / set_id


def _roots() -> tuple[tuple[Path, str], ...]:
    return ((BUNDLED, ""), (runs_dir(), RUN_PREFIX))


# --- listing ---------------------------------------------------------------------------------------


class RunPoint(NamedTuple):
    """A trained VAE on the Train page's rate-distortion plane (training/sweep.py), kept in the index so the
    page reads no sidecar: runs of one setting that differ only in beta and seed form one curve."""

    beta: float
    rate: float  # KL(q(z|x) || p(z)), nats per test image
    distortion: float  # E_q[-log p(x|z)], nats per test image
    active_units: int
    latent_dim: int
    seed: int
    setting: str  # everything else the run was trained from (run_setting): its curve


@dataclass(frozen=True)
class SetInfo:
    """What a listing knows of a set without loading weights (all from its sidecars)."""

    id: str
    path: Path
    kind: SetKind
    kinds: tuple[str, ...]  # the members, e.g. ("ae", "vae")
    dataset: str  # DataConfig.name (sets whose sidecars fail the schema are not listed)
    condition: str  # ModelConfig.condition: "none" for pairs
    stamp: float  # newest sidecar mtime: changes whenever a member is rewritten
    source: str = "torch"  # "onnx": graphs run by onnxruntime (training/onnxset.py); pages ask its capabilities;
    # "embeddings": codes a user brought (training/embeddings.py)
    weights: tuple[str, ...] = ()  # each member's weights_sha256 (runs/ only: imports compare them)
    point: RunPoint | None = None  # a VAE's place on the rate-distortion plane, runs/ only
    sibling: tuple[str, str] | None = None  # a pair's VAE's (sibling_key, sibling_variant), runs/ only


def _info(set_id: str, path: Path, kind: SetKind) -> SetInfo | None:
    if (path / MANIFEST).is_file() or (path / embeddings.MANIFEST).is_file():
        return _onnx_info(set_id, path)
    try:
        stats = [(path / f"{member}.json").stat() for member in SET_KINDS[kind]]
    except OSError:  # removed while listing
        return None
    # A sidecar is rewritten by a rename (new inode, new mtime): its version is checked once, not every rerun.
    return _checked_info(set_id, path, kind, tuple((s.st_ino, s.st_mtime_ns, s.st_size, s.st_mtime) for s in stats))


@functools.lru_cache(maxsize=512)
def _checked_info(set_id: str, path: Path, kind: SetKind, versions: tuple) -> SetInfo | None:
    kinds = SET_KINDS[kind]
    stamp = max(mtime for *_, mtime in versions)  # SetInfo.stamp: the newest sidecar's st_mtime
    try:
        for member in kinds:  # every member's sidecar passes the schema, or the set is not listed
            sidecar = read_sidecar(path / member)
            if member == LEADS[kind]:
                dataset, condition = sidecar["data"]["name"], sidecar["model"]["condition"]
        if set_id.startswith(RUN_PREFIX):  # anyone can add a folder here: its models must compute sense
            load_set(path)
    except (LatentExplorerError, OSError) as exc:
        _log_once(path, stamp, str(exc))
        return None
    return SetInfo(set_id, path, kind, kinds, dataset, condition, stamp)


_LOGGED: set[tuple[str, float, str]] = set()


def _log_once(path: Path, stamp: float, reason: str) -> None:
    """A set that cannot be listed is named in the log once (per version of its files), not per rerun."""
    key = (str(path), stamp, reason)
    if key not in _LOGGED:
        _LOGGED.add(key)
        logging.getLogger(__name__).warning("not listing %s: %s", path, reason)


def _onnx_info(set_id: str, path: Path) -> SetInfo | None:
    """An ONNX set's or an embeddings set's listing facts, from its manifest."""
    for name, check in ((MANIFEST, _checked_onnx_info), (embeddings.MANIFEST, _checked_embeddings_info)):
        try:
            st = (path / name).stat()
        except OSError:
            continue
        return check(set_id, path, (st.st_ino, st.st_mtime_ns, st.st_size, st.st_mtime))
    return None


@functools.lru_cache(maxsize=512)
def _checked_embeddings_info(set_id: str, path: Path, version: tuple) -> SetInfo | None:
    stamp = version[-1]
    try:
        embeddings.read_manifest(path)
    except (LatentExplorerError, OSError) as exc:
        _log_once(path, stamp, str(exc))
        return None
    info = (embeddings.MEMBER,), embeddings.DATA_NAME, "none", stamp, "embeddings"
    return SetInfo(set_id, path, "onnx", *info)


@functools.lru_cache(maxsize=512)
def _checked_onnx_info(set_id: str, path: Path, version: tuple) -> SetInfo | None:
    stamp = version[-1]
    try:
        manifest = read_manifest(path)
    except (CheckpointError, OSError) as exc:
        _log_once(path, stamp, str(exc))
        return None
    kind = "pair" if is_pair(manifest) else "onnx"
    return SetInfo(set_id, path, kind, tuple(manifest["models"]), manifest["data"]["name"], "none", stamp, "onnx")


def sets_below(root: str | Path, kind: SetKind | None = None) -> list[tuple[Path, SetKind]]:
    """(folder, set kind) of every complete set below root, sorted by folder; hidden folders
    (any part of the path below root starting with ".") are skipped: they are staging or backups."""
    root = Path(root)
    found = []
    manifests = [*root.rglob(MANIFEST), *root.rglob(embeddings.MANIFEST)]
    for manifest in sorted(manifests):  # ONNX sets (a pair when both members have both halves), embeddings
        hidden = any(part.startswith(".") for part in manifest.parent.relative_to(root).parts)
        info = None if hidden else _onnx_info("", manifest.parent)
        if info is not None and kind in (None, info.kind):
            found.append((manifest.parent, info.kind))
    for set_kind, kinds in SET_KINDS.items():
        if kind not in (None, set_kind):
            continue
        for sidecar in root.rglob(f"{LEADS[set_kind]}.json"):
            hidden = any(part.startswith(".") for part in sidecar.parent.relative_to(root).parts)
            if not hidden and all((sidecar.parent / f"{k}.json").is_file() for k in kinds):
                found.append((sidecar.parent, set_kind))
    return sorted(found)


def find_sets(kind: SetKind | None = None) -> dict[str, SetInfo]:
    """Set id -> SetInfo for the sets the app offers: bundled ones first, then runs/ (from its
    index: run_index), each sorted by folder. Staging left behind by a killed process is cleaned up
    on the way (run_index's scans)."""
    found: dict[str, SetInfo] = {}
    if BUNDLED.is_dir():
        for path, set_kind in sets_below(BUNDLED, kind):
            info = _info(path.relative_to(BUNDLED).as_posix(), path, set_kind)
            if info is not None:
                found[info.id] = info
    found.update(_run_sets(runs_dir(), kind))
    return found


# --- the index of runs/ ----------------------------------------------------------------------------
#
# runs/.index.json holds, per top-level folder of runs/, what a listing needs: its sets (SetInfo's
# fields, checked against the schema once) and its run's summary (training.jobs' job.json, or the
# sidecars of a set saved without one), with the folder's mtime when they were read. A reader stats
# each folder (a rename of any file into it, i.e. every atomic write, changes that mtime) and
# re-reads only folders whose mtime differs; a run still queued or running is read from its job.json
# each time and never written to the index until it ends. Writers (a save, an import, a worker's
# end, a reader that found something stale) merge their entries into the file under
# runs/.index.lock, the newer folder mtime winning, and replace it atomically: several server
# processes and workers may write at once without losing an update. A missing or unreadable index
# is rebuilt from the folders. Sets nested deeper than runs/<folder>/ are found when that folder's
# own mtime changes.

INDEX, INDEX_LOCK, JOB_STATE = ".index.json", ".index.lock", "job.json"
INDEX_VERSION = 5  # 2: ONNX sets (kinds, source); 3: a failed run's keyed error; 4: a VAE's point is its
# rate and distortion (RunPoint); 5: a pair's sibling facts (family_siblings)
_ACTIVE = ("queued", "running")
_MEMO: dict[str, tuple[tuple, dict]] = {}  # runs dir -> (index file version, its entries)


def _job_state(folder: Path) -> dict | None:
    try:
        state = json.loads((folder / JOB_STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) and state.get("version") == 1 and "status" in state else None


STATUSES = ("queued", "running", "finished", "failed", "cancelled")


def _time(value) -> float | None:
    return float(value) if isinstance(value, _NUMBER) and not isinstance(value, bool) else None


def job_summary(state: dict) -> dict | None:
    """What the run list shows of a run: job.json without its config but the epochs, every field
    of the type the list expects (job.json is as untrusted as any file in runs/); None if unusable."""
    if state.get("status") not in STATUSES:
        return None
    config = state.get("config")
    train = config.get("train") if isinstance(config, dict) else None
    epochs = train.get("epochs") if isinstance(train, dict) else state.get("epochs", 0)  # job.json, or a summary
    phase = state.get("phase") if isinstance(state.get("phase"), dict) else {}
    return {
        "status": state["status"],
        "message": str(state.get("message") or "")[:1000],
        "created": _time(state.get("created")) or 0.0,
        "started": _time(state.get("started")),
        "finished": _time(state.get("finished")),
        "phase": {
            k: v
            for k, v in phase.items()
            if isinstance(k, str) and isinstance(v, (str, int, float)) and len(str(v)) < 200
        },
        "epochs": epochs if isinstance(epochs, int) and not isinstance(epochs, bool) else 0,
        "error": state.get("error") if from_record(state.get("error")) is not None else None,  # why it failed, keyed
    }


def _set_entry(rel: str, path: Path, set_kind: SetKind) -> dict | None:
    """One set's listing facts, from its sidecars (schema-checked) or ONNX manifest, or None when it
    cannot be listed."""
    info = _info(RUN_PREFIX + rel, path, set_kind)
    if info is None:
        return None
    facts = {
        "id": info.id,
        "rel": rel,
        "kind": info.kind,
        "kinds": list(info.kinds),
        "dataset": info.dataset,
        "condition": info.condition,
        "stamp": info.stamp,
        "source": info.source,
        "weights": [],
        "point": None,
        "sibling": None,
    }
    run = {
        "status": "finished",
        "message": f"saved as {info.id}",
        "created": info.stamp,
        "started": info.stamp,
        "finished": info.stamp,
        "phase": {"name": "saved"},
        "epochs": 0,
        "error": None,
    }
    if info.source == "torch":
        try:
            sidecars = {k: read_sidecar(path / k) for k in info.kinds}
        except (CheckpointError, OSError):
            return None
        facts["weights"] = [str(s.get("weights_sha256")) for s in sidecars.values()]
        facts["point"] = _beta_point(sidecars) if info.kind == "pair" else None
        if info.kind == "pair" and "vae" in sidecars:  # family_siblings reads it here, not from the sidecar
            facts["sibling"] = [sibling_key(sidecars["vae"]), sibling_variant(sidecars["vae"])]
        lead = sidecars[info.kinds[-1]]  # the VAE of a pair, the regression of a conditional set: the run's config
        seconds = sum(float((s.get("metrics") or {}).get("train_seconds", 0.0)) for s in sidecars.values())
        run.update(created=info.stamp - seconds, started=info.stamp - seconds)
        run["phase"] = {"name": "saved", "kind": info.kinds[-1], "epoch": len(lead.get("history") or [])}
        run["epochs"] = int((lead.get("train") or {}).get("epochs", 0))
    facts["run"] = run
    return facts


def _beta_point(sidecars: dict) -> list | None:
    """A VAE's RunPoint fields for the rate-distortion plane, when it recorded its ELBO."""
    try:
        vae = sidecars["vae"]
        m = vae["metrics"]
        if "elbo" not in m:
            return None
        # Saved before rate and distortion were recorded: the ELBO's KL (elbo_kl, read as rate) or else the
        # closed-form KL is the rate, and -ELBO minus that rate the distortion, so -ELBO = R + D still holds.
        rate = float(m.get("rate", m["kl"]))
        distortion = float(m.get("distortion", -m["elbo"] - rate))
        beta, seed = float(vae["model"]["beta"]), int(vae["train"]["seed"])
        return [beta, rate, distortion, int(m["active_units"]), int(m["latent_dim"]), seed, run_setting(vae)]
    except (KeyError, TypeError, ValueError):
        return None


def run_setting(sidecar: dict) -> str:
    """What a VAE was trained from besides beta and seed, as a JSON key (the page words it): runs with the
    same key are one curve on the plane. The data seed counts with the seed; device and threads do not."""
    m, d, t = sidecar["model"], sidecar["data"], sidecar["train"]
    fields = {
        "dim": m["latent_dim"],
        "family": m["family"],
        "hidden": "-".join(map(str, m["hidden"])),
        "likelihood": m["likelihood"],
        "regime": d["regime"] if d["name"] == "moons" else "",
        "jitter": bool(d["jitter"]),
        "n_train": d.get("n_train") or 0,
        "epochs": t["epochs"],
        "batch": t["batch_size"],
        "lr": t["lr"],
        "warmup": t.get("kl_warmup_epochs") or 0,
        "posterior": m.get("posterior", "diag"),  # sidecars from before the families: diagonal
        "objective": t.get("objective", "elbo"),
        "iwae_k": t.get("iwae_k", 50),
    }
    return json.dumps(fields, sort_keys=True)


# --- posterior-family siblings: the same VAE trained with another q family or objective (issue 28) ---

# what may differ between siblings: the q family and the objective, and how (not what) a run trained
SIBLING_FREE = {
    "model": ("posterior",),
    "train": ("objective", "iwae_k", "device", "threads", "world_size"),
    "data": ("data_dir",),
}


def sibling_key(sidecar: dict) -> str:
    """What a VAE is apart from its posterior family and training objective, as a JSON key: the dataset
    (its config and the recorded facts of the data it read: sizes, shape, pixel mean), the architecture
    and latent size, the schedule and the seeds. Sets with equal keys are siblings."""
    parts = {
        section: {k: v for k, v in (sidecar.get(section) or {}).items() if k not in free}
        for section, free in SIBLING_FREE.items()
    }
    stats = sidecar.get("data_stats") or {}
    parts["data_stats"] = {k: stats.get(k) for k in ("name", "image_shape", "n_train", "n_test", "pixel_mean")}
    return json.dumps(parts, sort_keys=True)


def sibling_variant(sidecar: dict) -> str:
    """How a sibling differs: its family (diag, full, flow), with -iwae<k> when IWAE-trained."""
    posterior = (sidecar.get("model") or {}).get("posterior", "diag")  # before the families: diagonal
    train = sidecar.get("train") or {}
    return posterior if train.get("objective", "elbo") == "elbo" else f"{posterior}-iwae{train.get('iwae_k', 50)}"


@functools.lru_cache(maxsize=64)
def _bundled_sibling_facts(path: str, stamp: float) -> tuple[str, str] | None:
    """(sibling_key, sibling_variant) of a bundled pair's VAE, read from its sidecar once per process and
    stamp (the bundled sets are few; a run's facts come from the runs index, read when it was listed)."""
    try:
        sidecar = read_sidecar(Path(path) / "vae")
    except (CheckpointError, OSError):
        return None
    return sibling_key(sidecar), sibling_variant(sidecar)


def _sibling_facts(info: SetInfo) -> tuple[str, str] | None:
    if info.id.startswith(RUN_PREFIX):
        return info.sibling
    return _bundled_sibling_facts(str(info.path), info.stamp)


def family_siblings(set_id: str) -> dict[str, SetInfo]:
    """variant -> pair, for the pair set_id and every pair (bundled or a user's run) whose VAE is the same
    apart from its posterior family or objective, by their sidecars' facts (a run's from the runs index:
    no sidecar is read, however many runs there are): this set first, then one per other variant (the
    first found). Empty for an unknown set, an ONNX set or one without a VAE."""
    sets = find_sets("pair")
    own = sets.get(set_id)
    if own is None or own.source != "torch" or "vae" not in own.kinds:
        return {}
    facts = _sibling_facts(own)
    if facts is None:
        return {}
    found = {facts[1]: own}
    for info in sets.values():
        if info.dataset != own.dataset or info.source != "torch" or "vae" not in info.kinds:
            continue  # a cheap filter before any facts are looked up
        other = _sibling_facts(info)
        if other is not None and other[0] == facts[0]:
            found.setdefault(other[1], info)
    return found


def _entry(folder: Path, stamp: int) -> dict:
    """A folder's index entry, read from its files (stat taken before: a change while reading
    leaves the entry stale, so the next reader reads it again)."""
    state = _job_state(folder)
    entry: dict = {"stamp": stamp, "sets": [], "job": None, "live": False}
    summary = None if state is None else job_summary(state)
    if summary is not None:
        entry["job"] = summary
        entry["live"] = summary["status"] in _ACTIVE
        if entry["live"]:
            return entry  # nothing to list until it ends; its job.json is read on every look
    for path, set_kind in sets_below(folder):
        facts = _set_entry(path.relative_to(folder.parent).as_posix(), path, set_kind)
        if facts is not None:
            entry["sets"].append(facts)
    sets = entry["sets"]
    if summary is None and len(sets) == 1 and sets[0]["rel"] == folder.name and sets[0]["source"] == "torch":
        entry["job"] = entry["sets"][0]["run"]  # a set saved without a worker
        entry["saved"] = True
    return entry


def _load_index(runs: Path) -> dict:
    path = runs / INDEX
    try:
        st = path.stat()
    except OSError:
        return {}
    version = (st.st_ino, st.st_mtime_ns, st.st_size)
    memo = _MEMO.get(str(runs))
    if memo is not None and memo[0] == version:
        return memo[1]
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        entries = data["entries"] if data.get("version") == INDEX_VERSION else {}
        entries = {name: e for name, e in entries.items() if _valid_entry(name, e)}
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        entries = {}  # unreadable: rebuilt from the folders
    _MEMO[str(runs)] = (version, entries)
    return entries


_NUMBER = (int, float)


def _valid_set(name: str, s) -> bool:
    rel = s.get("rel") if isinstance(s, dict) else None
    parts = Path(rel).parts if isinstance(rel, str) else ()
    return (
        bool(parts)
        and parts[0] == name
        and not Path(rel).is_absolute()
        and not any(p.startswith(".") for p in parts)  # no .., no hidden folder: never outside runs/
        and s.get("id") == RUN_PREFIX + rel
        and s.get("kind") in (*SET_KINDS, "onnx")
        and s.get("source") in ("torch", "onnx", "embeddings")
        and isinstance(s.get("kinds"), list)
        and all(isinstance(k, str) for k in s["kinds"])
        and isinstance(s.get("dataset"), str)
        and isinstance(s.get("condition"), str)
        and isinstance(s.get("stamp"), _NUMBER)
        and isinstance(s.get("weights"), list)
        and all(isinstance(w, str) for w in s["weights"])
        and (s.get("point") is None or _valid_point(s["point"]))
        and (s.get("sibling") is None or _valid_sibling(s["sibling"]))
    )


def _valid_sibling(v) -> bool:
    return isinstance(v, list) and len(v) == 2 and all(isinstance(part, str) for part in v)


def _valid_point(p) -> bool:
    return (
        isinstance(p, list)
        and len(p) == len(RunPoint._fields)
        and all(isinstance(v, _NUMBER) and math.isfinite(v) for v in p[:-1])
        and isinstance(p[-1], str)
    )


def _valid_entry(name: str, e) -> bool:
    """An index entry of the shape _entry writes (the index is as untrusted as any file in runs/)."""
    if not isinstance(e, dict) or not isinstance(e.get("stamp"), int) or not isinstance(e.get("sets"), list):
        return False
    job = e.get("job")
    if job is not None and (not isinstance(job, dict) or job_summary(job) != job):
        return False
    return all(_valid_set(name, s) for s in e["sets"])


def _save_index(runs: Path, changed: dict[str, dict], removed: set[str]) -> tuple | None:
    """Merge these entries into the index file under its lock (the newer folder mtime wins), replace it;
    the file's version as written (no other writer can come between: taken under the lock)."""
    from .checkpoint import atomic_write_bytes

    with open(runs / INDEX_LOCK, "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        entries = dict(_load_index(runs))
        for name, entry in changed.items():
            old = entries.get(name)
            if old is None or entry["stamp"] >= old.get("stamp", -1) or old.get("live"):
                entries[name] = entry
        for name in removed:
            if not (runs / name).is_dir():
                entries.pop(name, None)
        try:
            atomic_write_bytes(runs / INDEX, json.dumps({"version": INDEX_VERSION, "entries": entries}).encode())
        except OSError as exc:  # a read-only runs folder still lists, at the cost of reading again
            logging.getLogger(__name__).warning("cannot write %s: %s", runs / INDEX, exc)
            _MEMO.pop(str(runs), None)
            return None
        version = _index_version(runs)
        _MEMO[str(runs)] = (version, entries)  # what was just written: no reader parses it again here
        return version


class Index(dict):
    """run_index's answer: folder name -> entry, and its generation, which changes whenever an ended
    run's entry or the set of folders does (a memo keyed by it is current), and its live runs' names."""

    generation: int = 0
    live: tuple[str, ...] = ()
    pending: int = 0  # folders changed but not read yet (a first build goes on in the background)


@dataclass
class _Seen:
    """What this process last read of a runs folder: checked again only when runs/ itself or its
    index file changed (every writer announces itself through index_changed, which rewrites the file;
    a folder added or removed by hand changes runs/' mtime), and fully every RESCAN_SECONDS for what
    no writer announced (files changed by hand inside a folder, sets nested deeper)."""

    key: tuple  # (runs/ mtime, index file version)
    scanned: float  # time.monotonic() of the last full scan
    index: Index


RESCAN_SECONDS = 10.0
_SEEN: dict[str, _Seen] = {}
_GENERATIONS = itertools.count(1)


def _runs_key(runs: Path) -> tuple | None:
    try:
        st = runs.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, _index_version(runs))


def _index_version(runs: Path) -> tuple | None:
    try:
        st = (runs / INDEX).stat()
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def run_index(runs: Path | None = None) -> Index:
    """Folder name -> index entry for every visible folder of runs/, current. A look costs the same with
    3 or 3,000 folders: two stats, and a read of each live run's job.json; the folders are scanned
    (one stat each, files read only for folders that changed) when runs/ or the index file changed,
    and at least every RESCAN_SECONDS. A look reads at most SCAN_BATCH changed folders itself, newest
    first; more (a first build: each set's load check, ~10 ms) are read by a thread in the background,
    and until it is done the index lists what it has read (Index.pending: how many are still to come)."""
    runs = Path(runs or runs_dir())
    key = _runs_key(runs)
    if key is None:
        return Index()
    seen = _SEEN.get(str(runs))
    building = _BUILDERS.get(str(runs))
    if building is not None and building.is_alive() and seen is not None:
        # The builder reads the folders it found and scans again when done; a folder added or changed since
        # it started (a run just queued) is read by the look that notices it, so it is listed at once
        if _LOOKED.get(str(runs)) != key:
            seen = _new_during_build(runs, key, seen)
    elif seen is None or seen.key != key or time.monotonic() - seen.scanned > RESCAN_SECONDS:
        return _scan(runs, key, SCAN_BATCH)
    if not seen.index.live:
        return seen.index
    index, ended = Index(seen.index), {}
    index.generation, index.live, index.pending = seen.index.generation, seen.index.live, seen.index.pending
    for name in index.live:  # a live run's folder changes on every epoch: read its job.json, not the index
        try:
            stamp = (runs / name).stat().st_mtime_ns
        except OSError:
            return _scan(runs, key, SCAN_BATCH)
        index[name] = _entry(runs / name, stamp)
        if not index[name]["live"]:
            ended[name] = index[name]
    if ended:  # its worker's own word may not have come yet (killed): every reader sees it ended now
        _save_index(runs, ended, set())
        return _scan(runs, _runs_key(runs), SCAN_BATCH)
    return index


SCAN_BATCH = 25  # changed folders a look reads itself (a quarter of a second or so); a thread reads the rest
_BUILDERS: dict[str, threading.Thread] = {}  # runs dir -> the thread reading what a look left
_BUILD_STARTED: dict[str, tuple[int, set]] = {}  # runs dir -> (time.time_ns(), folder names) as its builder started
_LOOKED: dict[str, tuple] = {}  # runs dir -> the key a look during its build last read new folders at


def _new_during_build(runs: Path, key: tuple, seen: _Seen) -> _Seen:
    """While the builder reads every folder: the folders added or changed since it started (newest first,
    SCAN_BATCH at most) read now, and removed ones dropped, into what this process lists meanwhile."""
    started, known = _BUILD_STARTED.get(str(runs), (0, set()))
    started -= 10**9  # file times lag the clock by a tick: a second's margin
    try:
        folders = {e.name: e.stat().st_mtime_ns for e in os.scandir(runs) if not e.name.startswith(".") and e.is_dir()}
    except OSError:
        return seen
    index = Index({name: e for name, e in seen.index.items() if name in folders})
    fresh = [
        (stamp, name)
        for name, stamp in folders.items()
        if (name not in known or stamp >= started) and _stale(index.get(name), stamp)
    ]
    fresh.sort(reverse=True)
    if len(fresh) <= SCAN_BATCH:  # else the next look reads the next batch
        _LOOKED[str(runs)] = key
    for stamp, name in fresh[:SCAN_BATCH]:
        index[name] = _entry(runs / name, stamp)
    if index == seen.index:
        return seen
    index.generation, index.pending = next(_GENERATIONS), seen.index.pending
    index.live = tuple(name for name, e in index.items() if e.get("live"))
    seen = _SEEN[str(runs)] = _Seen(seen.key, seen.scanned, index)
    return seen


def _scan(runs: Path, key: tuple, batch: int | None = None) -> Index:
    """Every folder's mtime against the index; folders that changed read again (newest first, batch of
    them at most: the rest by a background thread); the index file merged."""
    try:
        listing = list(os.scandir(runs))
        folders = [(e.name, e.stat().st_mtime_ns) for e in listing if not e.name.startswith(".") and e.is_dir()]
    except OSError:
        return Index()
    if any(e.name.endswith(STAGING_SUFFIX) for e in listing):
        clean_stale_staging(runs)  # left by a killed process
    entries = _load_index(runs)
    stale = [(name, stamp) for name, stamp in folders if _stale(entries.get(name), stamp)]
    current, changed, pending = _read_stale(runs, entries, stale, batch)
    current = {name: current.get(name, entries.get(name)) for name, _ in folders}  # runs/' order
    current = {name: entry for name, entry in current.items() if entry is not None}
    removed = set(entries) - {name for name, _ in folders}
    if changed or removed:
        key = (key[0], _save_index(runs, changed, removed))  # runs/' own mtime as it was before the scan
    seen = _SEEN.get(str(runs))
    index = Index(current)
    same = seen is not None and seen.index == current
    index.generation = seen.index.generation if same else next(_GENERATIONS)
    index.live = tuple(name for name, e in current.items() if e.get("live"))
    index.pending = pending
    _SEEN[str(runs)] = _Seen(None if pending else key, time.monotonic(), index)
    if pending:
        _build_in_background(runs, {name for name, _ in folders})
    return index


def _read_stale(runs: Path, entries: dict, stale: list, batch: int | None) -> tuple[dict, dict, int]:
    """The stale folders' entries read again, newest first, batch of them at most: (read, changed ones
    to write, how many were left unread; those keep their old entry if they had one)."""
    read, changed, pending = {}, {}, 0
    for i, (name, stamp) in enumerate(sorted(stale, key=lambda f: f[1], reverse=True)):
        entry = entries.get(name)
        if batch is not None and i >= batch:
            pending += 1
            continue
        read[name] = fresh = _entry(runs / name, stamp)
        if not fresh["live"] and not (entry is not None and not entry.get("live") and entry == fresh):
            changed[name] = fresh
    return read, changed, pending


def _stale(entry: dict | None, stamp: int) -> bool:
    return entry is None or entry.get("stamp") != stamp or bool(entry.get("live"))


def _build_in_background(runs: Path, folders: set) -> None:
    def build():
        try:
            _scan(runs, _runs_key(runs) or (0, None))
        except Exception as exc:  # never silent: the next look starts another
            logging.getLogger(__name__).warning("indexing %s stopped: %s", runs, exc)

    with _BUILDERS_LOCK:
        thread = _BUILDERS.get(str(runs))
        if thread is None or not thread.is_alive():
            thread = _BUILDERS[str(runs)] = threading.Thread(target=build, name=f"index {runs}", daemon=True)
            _BUILD_STARTED[str(runs)] = (time.time_ns(), folders)
            thread.start()


_BUILDERS_LOCK = threading.Lock()


def wait_for_index(runs: Path | None = None, seconds: float = 3600) -> Index:
    """The complete index: after the background builder (if any) has read every folder."""
    runs = Path(runs or runs_dir())
    thread = _BUILDERS.get(str(runs))
    if thread is not None:
        thread.join(seconds)
    return run_index(runs)


def index_changed(runs: Path, name: str) -> None:
    """A writer's word that runs/<name> changed (saved, imported, removed, a run's state): its entry
    is read again now, so no reader pays for it."""
    runs = Path(runs)
    folder = runs / name
    try:
        stamp = folder.stat().st_mtime_ns
    except OSError:
        _save_index(runs, {}, {name})
        return
    entry = _entry(folder, stamp)
    if not entry["live"]:  # a live run is never in the file (readers read its job.json): nothing to write
        _save_index(runs, {name: entry}, set())


def announce(path: str | Path) -> None:
    """index_changed for a folder written outside training.jobs (the CLI's --out, remeasure), when it
    lies in runs/: listed at once rather than at the next full scan."""
    try:
        runs, path = runs_dir().resolve(), Path(path).resolve()
        rel = path.relative_to(runs).parts
    except (OSError, ValueError):
        return
    if rel and not any(part.startswith(".") for part in rel):
        index_changed(runs, rel[0])


def active_runs(runs: Path | None = None) -> list[Path]:
    """The folders of runs that are queued or running."""
    runs = Path(runs or runs_dir())
    return [runs / name for name in run_index(runs).live]


_SETS_MEMO: dict[str, tuple[int, dict]] = {}  # runs dir -> (index generation, kind -> {set id: SetInfo})


def _run_sets(runs: Path, kind: SetKind | None = None) -> dict[str, SetInfo]:
    """runs/'s sets of this kind (None: all) from its index, by id, sorted by folder; kept per index
    generation (a caller copies it: dict.update, in C)."""
    index = run_index(runs)
    memo = _SETS_MEMO.get(str(runs))
    if memo is None or memo[0] != index.generation:
        memo = (index.generation, {})
        _SETS_MEMO[str(runs)] = memo
    if kind in memo[1]:
        return memo[1][kind]
    found = []
    for name in sorted(index):
        for s in index[name]["sets"]:
            if kind not in (None, s["kind"]):
                continue
            found.append(
                SetInfo(
                    s["id"],
                    runs / s["rel"],
                    s["kind"],
                    tuple(s["kinds"]),
                    s["dataset"],
                    s["condition"],
                    s["stamp"],
                    s["source"],
                    tuple(s["weights"]),
                    RunPoint(*s["point"]) if s["point"] else None,
                    tuple(s["sibling"]) if s.get("sibling") else None,
                )
            )
    memo[1][kind] = found = {info.id: info for info in sorted(found, key=lambda i: i.path)}
    return found


# --- loading ---------------------------------------------------------------------------------------


@dataclass
class ModelSet:
    """Checkpoints that belong together, keyed by kind: set["vae"].model, set.kinds, set.directory."""

    directory: Path
    members: dict[str, Checkpoint]

    def __getitem__(self, kind: str) -> Checkpoint:
        return self.members[kind]

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(self.members)

    @property
    def kind(self) -> SetKind:
        return next((k for k, kinds in SET_KINDS.items() if kinds == self.kinds), "onnx")

    @property
    def lead(self) -> Checkpoint:
        """The member whose configs speak for the set: the VAE of a pair, the CVAE of a conditional set."""
        return self.members.get(LEADS.get(self.kind, "vae")) or next(iter(self.members.values()))

    @property
    def source(self) -> str:
        """ "onnx" for graphs run by onnxruntime, "embeddings" for codes a user brought, "torch" for this
        package's own models."""
        if getattr(self.lead.model, "embeddings", False):
            return "embeddings"
        return "onnx" if isinstance(self.lead.model, OnnxModel) else "torch"


def set_kind_of(directory: Path) -> SetKind:
    for kind, kinds in SET_KINDS.items():
        if all((directory / f"{k}.json").is_file() for k in kinds):
            return kind
    wanted = " or ".join(" + ".join(f"{k}.json" for k in kinds) for kinds in SET_KINDS.values())
    raise CheckpointError(
        f"{directory}: no checkpoint set here (expected {wanted})",
        key="err_no_set",
        folder=str(directory),
        wanted=wanted,
    )


def _disagreement(members: dict[str, Checkpoint]) -> str | None:
    """Why the members cannot be compared side by side, or None when they agree."""
    first_kind, first = next(iter(members.items()))
    for kind, other in members.items():
        if other.config.model.in_shape != first.config.model.in_shape:
            return f"the {first_kind} and the {kind} were trained on images of different shapes"
        if other.config.data != first.config.data:
            return f"the {first_kind} and the {kind} were trained on different data"
        if other.config.train.seed != first.config.train.seed:
            return f"the {first_kind} and the {kind} were trained with different seeds"
    return None


def load_set(directory: str | Path, device: str = "cpu") -> ModelSet:
    """Load every member of a pair or conditional set; refuse members that disagree."""
    directory = Path(directory)
    if not directory.is_dir():
        raise CheckpointError(f"{directory}: no such directory", key="err_no_folder", folder=str(directory))
    if (directory / MANIFEST).is_file():
        return ModelSet(directory, load_onnx_members(directory))
    if (directory / embeddings.MANIFEST).is_file():
        return ModelSet(directory, embeddings.load_members(directory))
    members = {kind: load_checkpoint(directory / kind, device) for kind in SET_KINDS[set_kind_of(directory)]}
    reason = _disagreement(members)
    if reason:
        raise CheckpointError(
            f"{directory}: {reason}", key="err_store_unusable_folder", directory=directory, reason=reason
        )
    return ModelSet(directory, members)


def data_roots() -> list[Path]:
    """Folders a saved model's data may be read from: the import roots, the uploads, and the
    torchvision cache. A sidecar naming any other path is refused."""
    from .datasets import default_data_dir

    return [*import_roots(), uploads_dir().resolve(), default_data_dir().resolve()]


def dataset_for(config: RunConfig, data_dir: str | None = None) -> Dataset:
    """The data a saved model was trained on: its paths inside the allowed roots, no download,
    and images of the model's own shape. data_dir: the caller's own (a CLI flag), used instead."""
    from .datasets import DOWNLOADS_ALLOWED, load_dataset

    data = config.data if data_dir is None else dataclasses.replace(config.data, data_dir=data_dir)
    if data.name == embeddings.DATA_NAME:  # the set's own files, in a set folder of ours
        return embeddings.dataset(_inside(data.path or "", [BUNDLED.resolve(), runs_dir().resolve()], "data.path"))
    for field, text in (("data.path", data.path), ("data.data_dir", None if data_dir else data.data_dir)):
        if text is not None:
            _inside(text, data_roots(), field)
    token = DOWNLOADS_ALLOWED.set(False)
    try:
        dataset = load_dataset(data)
    finally:
        DOWNLOADS_ALLOWED.reset(token)
    if config.model.in_shape is not None and tuple(dataset.image_shape) != tuple(config.model.in_shape):
        raise CheckpointError(
            f"the data ({config.data.name}) are {'x'.join(map(str, dataset.image_shape))} images; the model "
            f"takes {'x'.join(map(str, config.model.in_shape))}",
            key="err_store_data_images_model",
            name=config.data.name,
            shape="x".join(map(str, dataset.image_shape)),
            model_shape="x".join(map(str, config.model.in_shape)),
        )
    return dataset


# --- writing ---------------------------------------------------------------------------------------


@contextmanager
def staged_dir(target: str | Path, *, replace: bool = False) -> Iterator[Path]:
    """Yield a hidden sibling folder to write into; rename it onto target when the block succeeds,
    remove it when it fails. replace: an existing target is swapped out (moved aside, then removed)."""
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=STAGING_SUFFIX, dir=target.parent))
    except OSError as exc:
        raise not_written(target, exc) from None
    try:
        try:
            yield staging
        except OSError as exc:  # the disk is full, read-only or gone: one message where it happens
            raise not_written(target, exc) from None
        if target.exists() and replace:
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", suffix=STAGING_SUFFIX, dir=target.parent))
            target.rename(old / target.name)
            staging.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        elif target.exists():
            raise LatentExplorerError(
                f"{target} exists already; nothing was written", key="err_store_exists_already_nothing", target=target
            )
        else:
            staging.rename(target)
    except OSError as exc:
        raise not_written(target, exc) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already after a successful rename


def check_out_dir(out: str | Path, *, force: bool = False) -> Path:
    """A folder a run may write: not an existing file, not among the bundled sets (checkpoints/) unless
    forced, its parent creatable and writable. Probed (a hidden folder made and removed) so a bad
    --out fails before training, not after it."""
    out = Path(check_path_text(str(out), "output folder"))
    if out.exists() and not out.is_dir():
        raise LatentExplorerError(
            f"{out}: exists and is not a folder; choose another output folder",
            key="err_store_exists_folder_choose",
            out=out,
        )
    resolved, bundled = out.resolve(), BUNDLED.resolve()
    if not force and (resolved == bundled or bundled in resolved.parents):
        raise LatentExplorerError(
            f"{out}: the bundled sets live in {bundled}; write elsewhere, or pass --force to write there",
            key="err_store_bundled_sets_live",
            out=out,
            bundled=bundled,
        )
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        os.rmdir(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=STAGING_SUFFIX, dir=out.parent))
    except OSError as exc:
        raise LatentExplorerError(
            f"{out}: cannot write there ({exc.strerror or exc})",
            key="err_store_cannot_write_there",
            out=out,
            detail=exc.strerror or exc,
        ) from None
    return out


class FolderBusy(LatentExplorerError):
    """Another writer holds the folder (store.hold)."""


LOCK_SUFFIX = ".lock"


@contextmanager
def hold(folder: str | Path, patience: float = 0.0) -> Iterator[Path]:
    """Exclusive hold of a folder for one writer, for the whole block: an fcntl lock on a hidden sibling
    file (.<name>.lock, removed on release), refused when another process or thread still holds it after
    `patience` seconds (at once by default). The kernel drops the lock when its holder ends, even by
    kill -9, so a crash never leaves it stuck."""
    folder = Path(folder)
    deadline = time.monotonic() + patience
    while True:
        try:
            fd, lock = _try_hold(folder)
            break
        except FolderBusy:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.05)
    try:
        with contextlib.suppress(OSError):  # the holder's pid, for the refusal; a full disk may not take it
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield folder
    finally:
        lock.unlink(missing_ok=True)  # while still held: whoever opens it next makes a new one
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _try_hold(folder: Path) -> tuple[int, Path]:
    """(fd, lock path) of folder's lock, locked; FolderBusy when another writer holds it now."""
    lock = folder.parent / f".{folder.name}{LOCK_SUFFIX}"
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:  # a read-only, full or removed folder
        raise LatentExplorerError(
            f"{folder}: cannot write there ({exc.strerror or exc}); nothing written",
            key="err_store_cannot_write_there2",
            folder=folder,
            detail=exc.strerror or exc,
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if os.fstat(fd).st_ino != os.stat(lock).st_ino:  # its holder removed it as we opened it: still busy
            raise BlockingIOError
    except (BlockingIOError, FileNotFoundError):
        holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise FolderBusy(
            f"{folder}: another run or import (process {holder}) is writing this folder; refused at once, "
            "nothing written. Wait for it to finish, or choose another name",
            key="err_store_another_run_import",
            folder=folder,
            holder=holder,
        ) from None
    return fd, lock


@contextmanager
def held_free_folder(root: Path, base: str) -> Iterator[Path]:
    """The first of root/base, root/base-2, ... that is not there and no other writer holds, held
    (hold) for the block that writes it: two imports of the same name never pick the same folder."""
    for n in itertools.count(1):
        target = root / (base if n == 1 else f"{base}-{n}")
        if target.exists():
            continue
        with ExitStack() as stack:
            try:
                stack.enter_context(hold(target))
            except FolderBusy:
                continue
            if target.exists():  # written while we waited for the lock
                continue
            yield target
            return


def check_free_space(out: Path, weights_bytes: int) -> None:
    """Refuse a run before training when its folder's disk cannot hold the save: the weights twice
    (staging beside the folder it may replace) plus limits.SAVE_MARGIN_BYTES for the sidecars."""
    from .limits import SAVE_MARGIN_BYTES

    need = 2 * weights_bytes + SAVE_MARGIN_BYTES
    where = next(p for p in (out, *out.parents) if p.exists())
    try:
        free = shutil.disk_usage(where).free
    except OSError as exc:
        raise not_written(out, exc) from None
    if free < need:
        raise LatentExplorerError(
            f"{out}: {free / 2**20:.1f} MiB free on its disk; this run's save needs about {need / 2**20:.1f} MiB; "
            "nothing was trained",
            key="err_disk_space",
            folder=str(out),
            free=free / 2**20,
            need=need / 2**20,
        )


def clean_stale_staging(root: str | Path, older_than: float = 60.0) -> list[Path]:
    """Remove staging folders left in root by a killed process (untouched for older_than seconds)."""
    removed = []
    now = time.time()
    for path in Path(root).glob(f".*{STAGING_SUFFIX}"):
        try:
            newest = max([path.stat().st_mtime] + [p.stat().st_mtime for p in path.rglob("*")])
        except OSError:
            continue
        if path.is_dir() and now - newest > older_than:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _weights_ids(directory: Path, kinds: tuple[str, ...]) -> tuple[str, ...] | None:
    try:
        return tuple(str(read_sidecar(directory / kind).get("weights_sha256")) for kind in kinds)
    except (CheckpointError, OSError):
        return None


def import_set(source: str | Path, name: str) -> str:
    """Validate a set, then copy it under runs/ and return its id. The same weights imported again
    give the set already there (compared by the SHA-256 in the sidecars), not a second copy."""
    loaded = load_set(source)
    source, kinds = Path(source), loaded.kinds
    wanted = _weights_ids(source, kinds)
    for info in find_sets(loaded.kind).values():
        if info.id.startswith(RUN_PREFIX) and info.weights == wanted:
            return info.id
    runs = runs_dir()
    with held_free_folder(runs, safe_name(name)) as target, staged_dir(target) as staging:
        for kind in kinds:
            for suffix in (".json", ".safetensors"):
                shutil.copyfile(source / f"{kind}{suffix}", staging / f"{kind}{suffix}")
    index_changed(runs, target.name)
    return RUN_PREFIX + target.name
