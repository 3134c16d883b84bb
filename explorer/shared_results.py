"""Long requests' results on disk, shared by every server process of one runs folder (issue 25, class 6).

One file per request under <runs>/.long-requests/, named by the SHA-256 of (FORMAT, task, arguments):
the arguments carry each set's path and stamp, so a rewritten set is another request. A file is an .npz
read with allow_pickle=False: the result's structure as JSON (member "structure") and its arrays, written
to a temporary name and renamed (a reader never sees half a file), checked on read (its own key, its
format, every class it names on an allowlist, numeric arrays only) and deleted when it fails a check.
The folder is kept under MAX_BYTES, the least recently used files dropped first. A lock file per key
makes the second process asking wait for the first's result instead of computing it again.

What a result may hold: None, bool, int, float, str, bytes, numpy arrays and scalars of numbers,
tuples, lists, dicts (any of these as keys), dataclasses of explorer's result modules, and fitted
UMAP, t-SNE or identity projections. Anything else is not stored (Unstorable): computed each time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib
import io
import json
import os
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from training.limits import LONG_RESULTS_BYTES

FORMAT = 1  # bump when a result class changes its fields: older files are then other keys
FOLDER = ".long-requests"  # hidden: the store never lists it as a set
SUFFIX, LOCK = ".npz", ".lock"
# The modules whose dataclasses a result file may name; nothing else is imported from a file's word.
RESULT_MODULES = (
    "explorer.inference",
    "explorer.sampling",
    "explorer.latents",
    "explorer.tour",
    "explorer.analyses",
    "explorer.likelihoods",
    "explorer.figures",  # LinePanel
    "training.families",  # FamilyNumbers, inside the Inference page's family panels
)
NUMERIC = "biufc"  # numpy dtype kinds a stored array may have
MISS = object()


class Unstorable(TypeError):
    """A result with a part this format does not hold (it is computed again next time)."""


class Corrupt(ValueError):
    """A result file that fails a check on read."""


def folder() -> Path:
    """<runs>/.long-requests, or $LATENT_EXPLORER_RESULTS (a test's own, or a faster disk)."""
    from training.store import runs_dir

    env = os.environ.get("LATENT_EXPLORER_RESULTS")
    return Path(env) if env else runs_dir() / FOLDER


def key(task: str, args: tuple) -> str:
    """The request's name on disk: its task and arguments (repr is exact for str, int, float, tuples)."""
    return hashlib.sha256(repr((FORMAT, task, tuple(args))).encode()).hexdigest()


# --- the format: structure as JSON, arrays as .npz members ---------------------------------------------


def _projections() -> dict[str, type]:
    from explorer.projection import TSNE, UMAP, Identity

    return {cls.name: cls for cls in (UMAP, TSNE, Identity)}  # PCA holds a scikit-learn model: not stored


FITTED = ("codes_", "fit_codes_", "fit_embedding_", "embedding_")  # what a projection learns, as arrays


def encode(obj: Any, arrays: list[np.ndarray]) -> Any:
    """obj as JSON values; its arrays appended to `arrays` and named by their index."""
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, bytes):
        arrays.append(np.frombuffer(obj, dtype=np.uint8))
        return {"bytes": len(arrays) - 1}
    if isinstance(obj, (np.ndarray, np.generic)):
        if obj.dtype.kind not in NUMERIC:
            raise Unstorable(f"an array of {obj.dtype}")
        arrays.append(np.asarray(obj))
        return {"array": len(arrays) - 1, "scalar": isinstance(obj, np.generic)}
    if isinstance(obj, (tuple, list)):
        return {"tuple" if isinstance(obj, tuple) else "list": [encode(v, arrays) for v in obj]}
    if isinstance(obj, dict):
        return {"dict": [[encode(k, arrays), encode(v, arrays)] for k, v in obj.items()]}
    cls = type(obj)
    if dataclasses.is_dataclass(obj) and cls.__module__ in RESULT_MODULES:
        fields = {f.name: encode(getattr(obj, f.name), arrays) for f in dataclasses.fields(obj) if f.init}
        return {"class": f"{cls.__module__}:{cls.__qualname__}", "fields": fields}
    if _projections().get(getattr(cls, "name", None)) is cls and hasattr(obj, "embedding_"):
        params = {k: encode(v, arrays) for k, v in vars(obj).items() if not k.endswith("_")}
        fitted = {k: encode(np.asarray(getattr(obj, k)), arrays) for k in FITTED}
        return {"projection": cls.name, "params": params, "fitted": fitted}
    raise Unstorable(type(obj).__name__)


def decode(node: Any, arrays: dict[str, np.ndarray]) -> Any:
    """The value encode() described; Corrupt on anything it would not have written."""
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if not isinstance(node, dict) or len(node) > 3:
        raise Corrupt("an unknown node")
    kind = next((k for k in _DECODERS if k in node), None)
    if kind is None:
        raise Corrupt("an unknown node")
    return _DECODERS[kind](node, arrays)


def _bytes(node: dict, arrays: dict[str, np.ndarray]) -> bytes:
    return _array(node["bytes"], arrays).astype(np.uint8, copy=False).tobytes()


def _numbers(node: dict, arrays: dict[str, np.ndarray]) -> Any:
    a = _array(node["array"], arrays)
    return a[()] if node.get("scalar") is True and a.ndim == 0 else a


def _sequence(node: dict, arrays: dict[str, np.ndarray]) -> tuple | list:
    items = node.get("tuple", node.get("list"))
    if not isinstance(items, list):
        raise Corrupt("a sequence that is not a list")
    values = [decode(v, arrays) for v in items]
    return tuple(values) if "tuple" in node else values


def _mapping(node: dict, arrays: dict[str, np.ndarray]) -> dict:
    pairs = node["dict"]
    if not isinstance(pairs, list) or not all(isinstance(p, list) and len(p) == 2 for p in pairs):
        raise Corrupt("a dict that is not a list of pairs")
    try:
        return {decode(k, arrays): decode(v, arrays) for k, v in pairs}
    except TypeError as exc:  # an unhashable key
        raise Corrupt(str(exc)) from None


def _array(index: Any, arrays: dict[str, np.ndarray]) -> np.ndarray:
    if not isinstance(index, int) or isinstance(index, bool) or f"a{index}" not in arrays:
        raise Corrupt("a missing array")
    return arrays[f"a{index}"]


def _dataclass(node: dict, arrays: dict[str, np.ndarray]) -> Any:
    name, fields = node.get("class"), node.get("fields")
    module, _, qualname = name.partition(":") if isinstance(name, str) else ("", "", "")
    if module not in RESULT_MODULES or not isinstance(fields, dict):
        raise Corrupt(f"a class outside the result modules: {str(name)[:80]!r}")
    cls = getattr(importlib.import_module(module), qualname, None) if qualname.isidentifier() else None
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise Corrupt(f"not a result class: {name!r}")
    if set(fields) != {f.name for f in dataclasses.fields(cls) if f.init}:
        raise Corrupt(f"{name}: other fields than its class has now")
    return cls(**{k: decode(v, arrays) for k, v in fields.items()})


def _projection(node: dict, arrays: dict[str, np.ndarray]) -> Any:
    cls = _projections().get(node.get("projection"))
    params, fitted = node.get("params"), node.get("fitted")
    if cls is None or not isinstance(params, dict) or not isinstance(fitted, dict) or set(fitted) != set(FITTED):
        raise Corrupt("not a stored projection")
    try:
        made = cls(**{k: decode(v, arrays) for k, v in params.items()})
    except TypeError as exc:  # other settings than the class takes now
        raise Corrupt(str(exc)) from None
    for name in FITTED:
        value = decode(fitted[name], arrays)
        if not isinstance(value, np.ndarray) or value.ndim != 2:
            raise Corrupt(f"{name}: not a matrix")
        setattr(made, name, value.astype(np.float32, copy=False))
    if len(made.codes_) != len(made.embedding_) or made.embedding_.shape[1] != 2:
        raise Corrupt("codes and their places differ in number")
    made.index_ = None
    if not made.exact:  # the exact-match index (a second or less): rebuilt, not stored
        from sklearn.neighbors import NearestNeighbors

        made.index_ = NearestNeighbors(n_neighbors=1).fit(made.codes_)
    return made


_DECODERS = {
    "bytes": _bytes,
    "array": _numbers,
    "tuple": _sequence,
    "list": _sequence,
    "dict": _mapping,
    "class": _dataclass,
    "projection": _projection,
}


# --- the files -------------------------------------------------------------------------------------------


def load(name: str, where: Path | None = None) -> Any:
    """The stored result of request `name` (key()), or MISS; a file failing a check is deleted."""
    path = (where or folder()) / f"{name}{SUFFIX}"
    try:
        if path.stat().st_size > LONG_RESULTS_BYTES:
            raise Corrupt("larger than the whole store")
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        meta = json.loads(arrays.pop("structure").tobytes().decode())
        if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("key") != name:
            raise Corrupt("another request's file, or another format")
        if any(a.dtype.kind not in NUMERIC for a in arrays.values()):
            raise Corrupt("an array that is not numbers")
        value = decode(meta.get("value"), arrays)
    except FileNotFoundError:
        return MISS
    except Exception:  # truncated, corrupt zip, wrong JSON, a class renamed since: not trusted, gone
        with contextlib.suppress(OSError):
            path.unlink()
        return MISS
    with contextlib.suppress(OSError):
        os.utime(path)  # its last use: eviction drops the least recently used
    return value


def store(name: str, value: Any, where: Path | None = None, limit: int = LONG_RESULTS_BYTES) -> bool:
    """Write the result (atomically) and trim the folder to `limit` bytes; False when it cannot be
    stored (Unstorable, larger than a quarter of the limit, a full or read-only disk): nothing left."""
    where = where or folder()
    arrays: list[np.ndarray] = []
    try:
        meta = {"format": FORMAT, "key": name, "value": encode(value, arrays)}
    except Unstorable:
        return False
    buffer = io.BytesIO()
    members = {f"a{i}": a for i, a in enumerate(arrays)}
    np.savez(buffer, structure=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **members)
    if buffer.tell() > limit // 4:
        return False
    tmp = where / f".{name}.{os.getpid()}.tmp"
    try:
        where.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(buffer.getbuffer())
        os.replace(tmp, where / f"{name}{SUFFIX}")
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
        return False
    trim(where, limit)
    return True


def trim(where: Path, limit: int) -> None:
    """Delete the least recently used results until the folder holds at most `limit` bytes, and lock
    files nobody holds once their result is gone (or was never written)."""
    import fcntl

    entries = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(where):
            with contextlib.suppress(OSError):
                if entry.name.endswith(SUFFIX):
                    st = entry.stat()
                    entries.append((st.st_mtime, st.st_size, entry.path))
                elif entry.name.endswith(LOCK) and not (where / (entry.name[: -len(LOCK)] + SUFFIX)).exists():
                    fd = os.open(entry.path, os.O_RDWR)
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        os.unlink(entry.path)
                    except BlockingIOError:
                        pass  # someone computes it now
                    finally:
                        os.close(fd)
    total = sum(size for _, size, _ in entries)
    for _, size, path in sorted(entries):
        if total <= limit:
            break
        with contextlib.suppress(OSError):
            os.unlink(path)
            total -= size


@contextlib.contextmanager
def computing(name: str, where: Path | None = None, on_wait=None) -> Iterator[None]:
    """Hold request `name`'s lock for the block: the one process computing it; another asking waits here
    (on_wait() called once) and then finds its result on disk. Without a usable folder: no lock."""
    import fcntl

    where = where or folder()
    try:
        where.mkdir(parents=True, exist_ok=True)
        fd = os.open(where / f"{name}{LOCK}", os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:  # a read-only or full runs folder: computed here, not shared
        yield
        return
    told = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.fstat(fd).st_ino == os.stat(where / f"{name}{LOCK}").st_ino:
                break  # held, and still the file others open (trim() may have removed the one we opened)
        except (BlockingIOError, FileNotFoundError):
            pass
        os.close(fd)
        if not told and on_wait is not None:
            on_wait()
            told = True
        time.sleep(0.1)
        try:
            fd = os.open(where / f"{name}{LOCK}", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            yield
            return
    try:
        yield
    finally:
        os.close(fd)  # releases the lock
