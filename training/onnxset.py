"""Models from elsewhere: ONNX encoders and decoders, run by onnxruntime behind the one interface.

A set folder holds a manifest and up to four graphs with fixed names (no path in it is the user's):

    onnx.json               the manifest (schema.check_manifest): latent size, image shape and value
                            range, the data, and per member what its encoder and decoder output
    <kind>.encoder.onnx     x (B, C, H, W) float32 -> z (B, D), or mu and logvar (B, D)
    <kind>.decoder.onnx     z (B, D) float32 -> logits, probabilities or mean (B, C, H, W)

An .onnx file is hostile data until checked (check_graph): size capped before it is read, no external
tensor files, no operator domain but ONNX's own, opset within limits.ONNX_OPSETS, inputs and outputs
named, typed and shaped as the manifest says. It then runs on onnxruntime's CPU provider with one
intra-op thread and a time budget per call, and every output is checked (finite, bounded, shaped).
"""

from __future__ import annotations

import collections
import hashlib
import json
import re
import threading
import time
import weakref
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import torch
from torch import nn

from . import limits
from .checkpoint import Checkpoint
from .config import DataConfig, ModelConfig, RunConfig, TrainConfig, from_dict
from .errors import CheckpointError, LatentExplorerError, Phrase, Quoted
from .kinds import PAIR_KINDS
from .models import LOGVAR_RANGE, Posterior
from .schema import ONNX_ENCODER_OUTPUTS, check_manifest, onnx_roles

MANIFEST = "onnx.json"
FORMAT = "latent-explorer-onnx"
FORMAT_VERSION = 1
ALLOWED_DOMAINS = ("", "ai.onnx")  # ONNX's own operators; com.microsoft and custom domains are refused
PROBE_IMAGES = 8  # test images run through each graph at import


class OnnxError(CheckpointError):
    """A graph that is refused, or that failed or misbehaved while running; the message says which."""


def graph_file(kind: str, part: str) -> str:
    return f"{kind}.{part}.onnx"


# --- checks before onnxruntime sees a graph ---------------------------------------------------------


def _graphs(graph) -> Iterable:
    """The graph and every subgraph (If / Loop / Scan bodies), depth first."""
    import onnx

    yield graph
    for node in graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                yield from _graphs(attr.g)
            elif attr.type == onnx.AttributeProto.GRAPHS:
                for g in attr.graphs:
                    yield from _graphs(g)


def _tensors(graph) -> Iterable:
    """Every tensor stored in a graph: initializers, sparse ones, and Constant-style attributes."""
    import onnx

    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield from (sparse.values, sparse.indices)
    for node in graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.TENSOR:
                yield attr.t
            elif attr.type == onnx.AttributeProto.TENSORS:
                yield from attr.tensors
            elif attr.type == onnx.AttributeProto.SPARSE_TENSOR:
                yield from (attr.sparse_tensor.values, attr.sparse_tensor.indices)


def dims_of(value_info) -> list[int | None]:
    """A graph input's or output's shape: ints where fixed, None where symbolic (the batch)."""
    shape = value_info.type.tensor_type.shape
    return [d.dim_value if d.HasField("dim_value") else None for d in shape.dim]


def _check_io(values, expected: dict[str, tuple[int, ...]], what: str, name: str) -> None:
    what, one = Phrase(what, f"word_onnx_{what}"), Phrase(what[:-1], f"word_onnx_{what[:-1]}")  # inputs, input
    """Graph inputs or outputs against {name: (dims after the batch)}: names, float32, rank, fixed sides."""
    import onnx

    found = {v.name: v for v in values}
    if set(found) != set(expected):
        raise OnnxError(
            f"{name}: {what} are {sorted(found)[:4]}; the manifest needs {sorted(expected)}",
            key="err_onnx_manifest_needs",
            name=name,
            what=what,
            found=sorted(found)[:4],
            expected=sorted(expected),
        )
    for key, dims in expected.items():
        value = found[key]
        if not value.type.HasField("tensor_type") or value.type.tensor_type.elem_type != onnx.TensorProto.FLOAT:
            raise OnnxError(
                f"{name}: {one} {key!r} must be a float32 tensor",
                key="err_onnx_float_tensor",
                name=name,
                one=one,
                field=repr(key),
            )
        if not value.type.tensor_type.HasField("shape"):
            continue  # no declared shape: every run's output is checked instead
        got = dims_of(value)
        if len(got) != 1 + len(dims) or any(g is not None and g != d for g, d in zip(got[1:], dims)):
            shown = ["B" if g is None else g for g in got]
            raise OnnxError(
                f"{name}: {one} {key!r} has shape {shown}; the manifest needs [B, {', '.join(map(str, dims))}]",
                key="err_onnx_shape_manifest_needs",
                name=name,
                one=one,
                field=repr(key),
                shown=shown,
                choices=", ".join(map(str, dims)),
            )
        if got[0] is not None and not 1 <= got[0] <= limits.ONNX_BATCH:
            raise OnnxError(
                f"{name}: {one} {key!r} has a fixed batch of {got[0]}; this server runs 1 to "
                f"{limits.ONNX_BATCH} rows at a time (or a dynamic batch axis)",
                key="err_onnx_fixed_batch_export",
                name=name,
                one=one,
                field=repr(key),
                batch=got[0],
                most=limits.ONNX_BATCH,
            )


def read_capped(path: Path) -> bytes:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise OnnxError(
            f"{path.name}: cannot read it ({exc.strerror or exc})",
            key="err_onnx_cannot_read",
            path=path.name,
            detail=exc.strerror or exc,
        ) from None
    if size > limits.MAX_ONNX_BYTES:
        cap = limits.MAX_ONNX_BYTES // 2**20
        raise OnnxError(
            f"{path.name}: {size / 2**20:,.0f} MiB; this server takes ONNX files of at most {cap} MiB",
            key="err_onnx_mib_server_takes",
            path=path.name,
            mib=size / 2**20,
            cap=cap,
        )
    return path.read_bytes()


def parse_model(raw: bytes, name: str):
    import onnx

    try:
        return onnx.load_model_from_string(raw)  # never load_external_data: no path in the file is followed
    except Exception as exc:  # protobuf raises its own DecodeError, or others on truncated input
        raise OnnxError(
            f"{name}: not an ONNX model ({type(exc).__name__})",
            key="err_onnx_onnx_model",
            name=name,
            type=type(exc).__name__,
        ) from None


def _check_operators(model, name: str) -> None:
    """ONNX's own domain only, an opset within limits, no external tensor files anywhere."""
    import onnx

    if model.functions:
        raise OnnxError(
            f"{name}: defines its own functions ({model.functions[0].domain}); only ONNX's operators run",
            key="err_onnx_defines_own_functions",
            name=name,
            domain=model.functions[0].domain,
        )
    bad = sorted({op.domain for op in model.opset_import} - set(ALLOWED_DOMAINS))
    if bad:
        raise OnnxError(
            f"{name}: uses the custom operator domain {bad[0]!r}; only ONNX's own operators run here",
            key="err_onnx_uses_custom_operator",
            name=name,
            domain=repr(bad[0]),
        )
    opset = next((op.version for op in model.opset_import if op.domain in ALLOWED_DOMAINS), None)
    low, high = limits.ONNX_OPSETS
    if opset is None or not low <= opset <= high:
        raise OnnxError(
            f"{name}: opset {opset}; this server runs opsets {low} to {high}",
            key="err_onnx_opset_server_runs",
            name=name,
            opset=opset,
            low=low,
            high=high,
        )
    for graph in _graphs(model.graph):
        for node in graph.node:
            if node.domain not in ALLOWED_DOMAINS:
                raise OnnxError(
                    f"{name}: node {node.op_type!r} is from the custom domain {node.domain!r}",
                    key="err_onnx_node_custom_domain",
                    name=name,
                    op_type=repr(node.op_type),
                    domain=repr(node.domain),
                )
        for tensor in _tensors(graph):
            if tensor.data_location == onnx.TensorProto.EXTERNAL or len(tensor.external_data):
                raise OnnxError(
                    f"{name}: tensor {tensor.name!r} points at an external data file; keep the weights in the .onnx",
                    key="err_onnx_tensor_points_external",
                    name=name,
                    tensor=repr(tensor.name),
                )


def load_graph(path: Path, inputs: dict[str, tuple[int, ...]], outputs: dict[str, tuple[int, ...]]) -> bytes:
    """The file's bytes once every static check passed; OnnxError names the first that failed."""
    import onnx

    raw = read_capped(path)
    model = parse_model(raw, path.name)
    _check_operators(model, path.name)
    try:
        onnx.checker.check_model(model)
    except Exception as exc:  # onnx.checker.ValidationError and friends
        detail = onnx_quoted(str(exc))
        raise OnnxError(
            f"{path.name}: fails the ONNX checker ({detail})",
            key="err_onnx_fails_onnx_checker",
            path=path.name,
            detail=detail,
        ) from None
    weights = {t.name for t in model.graph.initializer}
    _check_io([v for v in model.graph.input if v.name not in weights], inputs, "inputs", path.name)
    _check_io(model.graph.output, outputs, "outputs", path.name)
    return raw


# --- running ----------------------------------------------------------------------------------------


class Watchdog:
    """One thread for every call in the process: it tells onnxruntime to stop a run whose time budget
    (limits.ONNX_CALL_SECONDS, read when the call starts) has passed. Arming costs a dict entry, not a
    thread: a thread per call took 0.1 ms, four times a small decoder's whole run."""

    def __init__(self, tick: float = 0.05):
        self.tick, self.lock, self.runs, self.late = tick, threading.Lock(), {}, set()
        self.count, self.thread = 0, None

    def arm(self, run) -> int:
        with self.lock:
            self.count += 1
            self.runs[self.count] = (time.monotonic() + limits.ONNX_CALL_SECONDS, run)
            if self.thread is None:
                self.thread = threading.Thread(target=self._watch, name="onnx-watchdog", daemon=True)
                self.thread.start()
            return self.count

    def fired(self, ticket: int) -> bool:
        with self.lock:
            return ticket in self.late

    def disarm(self, ticket: int) -> None:
        with self.lock:
            self.runs.pop(ticket, None)
            self.late.discard(ticket)

    def _watch(self) -> None:
        while True:
            time.sleep(self.tick)
            now = time.monotonic()
            with self.lock:
                for ticket, (deadline, run) in list(self.runs.items()):
                    if now >= deadline and ticket not in self.late:
                        run.terminate = True
                        self.late.add(ticket)


WATCHDOG = Watchdog()


_ARENA = threading.Lock()
_ARENA_READY = False


def shared_arena() -> None:
    """Once per process: one CPU arena of at most limits.ONNX_MEMORY_BYTES that every ONNX session
    allocates from. A run asking for more fails at that allocation, before the memory is taken."""
    global _ARENA_READY
    import onnxruntime as ort

    with _ARENA:
        if not _ARENA_READY:
            # Only max_mem is set: a fixed first chunk or extend strategy made onnxruntime 1.32 abort
            # (bfc_arena RegionFor) once a run had grown the arena.
            config = ort.OrtArenaCfg({"max_mem": limits.ONNX_MEMORY_BYTES})
            where = ort.OrtMemoryInfo("Cpu", ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0, ort.OrtMemType.DEFAULT)
            ort.create_and_register_allocator(where, config)
            _ARENA_READY = True


_ASKED = re.compile(r"smaller than requested bytes of (\d+)")
# onnxruntime's and the ONNX checker's failures by class, from their status names and usual wording (first match
# wins): what the app says before it shows their text.
FAILURES = (
    ("onnx_fail_memory", r"Failed to allocate|bad_alloc|out of memory|MemoryError|smaller than requested bytes"),
    ("onnx_fail_unsupported_op", r"NOT_IMPLEMENTED|Could not find an implementation|No Op registered|not a registered"),
    ("onnx_fail_invalid_graph", r"INVALID_GRAPH|INVALID_PROTOBUF|NO_MODEL|Protobuf parsing|not topologically sorted"),
    ("onnx_fail_type_shape", r"INVALID_ARGUMENT|[Tt]ype ?[Ee]rror|type \(|[Ss]hape|dimension|[Rr]ank"),
)


def onnx_quoted(text: str) -> Quoted:
    """onnxruntime's (or the checker's) first line of an error, with the class of failure it reads as."""
    line = text.splitlines()[0][:200] if text else ""
    key = next((k for k, pattern in FAILURES if re.search(pattern, text)), "quoted_onnx")
    return Quoted(line, key)


def _stopped_because(exc: Exception, late: bool) -> str:
    """Why a run failed, in one line (keyed, but onnxruntime's own reason): over its time budget, over the
    memory cap, or what onnxruntime said."""
    if late:
        seconds = limits.ONNX_CALL_SECONDS
        return Phrase(f"took longer than {seconds:g} s", "onnx_took_longer", seconds=seconds)
    text = str(exc)
    asked = _ASKED.search(text)
    if asked:
        mib, cap = int(asked.group(1)) / 2**20, limits.ONNX_MEMORY_BYTES // 2**20
        return Phrase(
            f"asked for {mib:,.0f} MiB; ONNX models here share at most {cap} MiB", "onnx_asked_for", mib=mib, cap=cap
        )
    return onnx_quoted(text) if text else type(exc).__name__


class LiveSessions:
    """The graphs whose onnxruntime sessions are alive in this process, least recently run first, with
    their bytes: past limits.ONNX_WEIGHT_BYTES the oldest sessions are dropped (never the one just used)."""

    def __init__(self):
        self.lock, self.live = threading.Lock(), collections.OrderedDict()  # id -> (weakref to Graph, bytes)

    def used(self, graph: "Graph") -> None:
        with self.lock:
            key = id(graph)
            if key in self.live:
                self.live.move_to_end(key)
            else:
                self.live[key] = (weakref.ref(graph, lambda _, key=key: self._gone(key)), graph.size)
            total = sum(size for _, size in self.live.values())
            for old in list(self.live):
                if total <= limits.ONNX_WEIGHT_BYTES or old == key:
                    break
                ref, size = self.live.pop(old)
                if ref() is not None:
                    ref().session = None  # a run under way keeps its own reference until it ends
                total -= size

    def _gone(self, key: int) -> None:
        with self.lock:
            self.live.pop(key, None)

    def held(self) -> int:
        with self.lock:
            return sum(size for ref, size in self.live.values() if ref() is not None and ref().session is not None)


LIVE = LiveSessions()


class Graph:
    """One checked graph in an onnxruntime session: CPU, one thread, the shared capped arena, a time
    budget per call, at most limits.ONNX_BATCH rows a run. The session may be dropped to keep the
    process's sessions within limits.ONNX_WEIGHT_BYTES (LIVE); it is made again from `path`, whose bytes
    must still have the same SHA-256."""

    def __init__(self, raw: bytes, name: str, outputs: dict[str, str], path: Path | None = None):
        """outputs: the manifest's name of each output (mu, logits...) -> the graph's own."""
        self.session = self._make_session(raw, name)
        self.name, self.outputs, self.path, self.size = name, outputs, path, len(raw)
        first = self.session.get_inputs()[0]
        self.input = first.name
        # A graph exported with a fixed batch (torch.onnx without dynamic_axes) runs that many rows a time;
        # load_graph has checked it is 1 to ONNX_BATCH.
        batch = first.shape[0] if first.shape else None
        self.fixed_batch = batch if isinstance(batch, int) and batch > 0 else None
        self.sha256 = hashlib.sha256(raw).hexdigest()
        LIVE.used(self)

    def live_session(self):
        """The session, made again from the file when LIVE dropped it."""
        session = self.session
        if session is None:
            raw = read_capped(self.path) if self.path is not None else b""
            if hashlib.sha256(raw).hexdigest() != self.sha256:
                raise OnnxError(
                    f"{self.name}: does not match its manifest (SHA-256 differs)",
                    key="err_onnx_does_match_manifest",
                    path=self.name,
                )
            session = self.session = self._make_session(raw, self.name)
        LIVE.used(self)
        return session

    @staticmethod
    def _make_session(raw: bytes, name: str):
        import onnxruntime as ort

        shared_arena()
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 4  # fatal only: a failed run becomes an OnnxError with its reason
        options.add_session_config_entry("session.use_env_allocators", "1")  # the capped arena
        ort.set_default_logger_severity(4)
        try:
            # No constant folding: it runs while the session is made, outside the arena (a ConstantOfShape
            # of 900 MB became a 900 MB weight the session held), and torch's exports are folded already.
            return ort.InferenceSession(
                raw, options, providers=["CPUExecutionProvider"], disabled_optimizers=["ConstantFolding"]
            )
        except Exception as exc:  # onnxruntime's Fail / InvalidGraph / NotImplemented
            detail = onnx_quoted(str(exc))
            raise OnnxError(
                f"{name}: onnxruntime cannot run it ({detail})",
                key="err_onnx_onnxruntime_cannot_run",
                name=name,
                detail=detail,
            ) from None

    def __call__(self, array: np.ndarray, shapes: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
        """Run on (B, ...) float32, limits.ONNX_BATCH rows at a time (a fixed-batch graph: its batch, the
        last chunk padded with zeros and its extra rows dropped); every output (by the manifest's name)
        finite, at most MAX_ONNX_VALUE, of shape (B, *shapes[name])."""
        array = np.ascontiguousarray(array, np.float32)
        step = self.fixed_batch or limits.ONNX_BATCH
        parts = [self._chunk(array[s : s + step], shapes) for s in range(0, max(len(array), 1), step)]
        if len(parts) == 1:
            return parts[0]
        return {key: np.concatenate([p[key] for p in parts]) for key in shapes}

    def _chunk(self, array: np.ndarray, shapes: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
        short = (self.fixed_batch or 0) - len(array)
        if short <= 0:
            return self._run(array, shapes)
        padded = np.concatenate([array, np.zeros((short, *array.shape[1:]), np.float32)])
        return {key: value[: len(array)] for key, value in self._run(padded, shapes).items()}

    def _run(self, array: np.ndarray, shapes: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
        import onnxruntime as ort

        run = ort.RunOptions()
        run.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")  # hand back what it grew
        ticket = WATCHDOG.arm(run)
        try:
            values = self.live_session().run(list(self.outputs.values()), {self.input: array}, run)
        except Exception as exc:
            why = _stopped_because(exc, WATCHDOG.fired(ticket))
            raise OnnxError(
                f"{self.name}: stopped ({why})",
                key="err_onnx_stopped",
                name=self.name,
                why=why,
            ) from None
        finally:
            WATCHDOG.disarm(ticket)
        out = {}
        for key, value in zip(self.outputs, values):
            want = (len(array), *shapes[key])
            if not isinstance(value, np.ndarray) or value.shape != want:
                got = getattr(value, "shape", type(value).__name__)
                raise OnnxError(
                    f"{self.name}: output {key!r} has shape {got}, expected {want}",
                    key="err_onnx_output_shape_expected",
                    name=self.name,
                    field=repr(key),
                    got=got,
                    want=want,
                )
            value = value.astype(np.float32, copy=False)
            if not np.isfinite(value).all():
                raise OnnxError(
                    f"{self.name}: output {key!r} holds NaN or infinite values",
                    key="err_onnx_output_holds_nan",
                    name=self.name,
                    field=repr(key),
                )
            if np.abs(value).max(initial=0) > limits.MAX_ONNX_VALUE:
                raise OnnxError(
                    f"{self.name}: output {key!r} reaches {np.abs(value).max():.3g} (at most "
                    f"{limits.MAX_ONNX_VALUE:g})",
                    key="err_onnx_output_reaches_most",
                    name=self.name,
                    field=repr(key),
                    largest=np.abs(value).max(),
                    max_onnx_value=limits.MAX_ONNX_VALUE,
                )
            out[key] = value
        return out


class OnnxModel(nn.Module):
    """An ONNX encoder and/or decoder behind the one interface (encode -> Posterior, decode -> [0, 1]).

    No parameters and no autograd: what needs gradients through the decoder (q* on the exact-inference
    page) asks `differentiable` first. decode_logits gives logits for the likelihoods in training.losses.
    """

    differentiable = False

    def __init__(
        self,
        config: ModelConfig,
        value_range: tuple[float, float],
        encoder: Graph | None,
        encoder_kind: str | None,
        decoder: Graph | None,
        decoder_kind: str | None,
    ):
        super().__init__()
        self.config = config
        self.latent_dim = config.latent_dim
        self.is_variational = encoder_kind == "mu_logvar" and config.kind == "vae"
        self.value_range = value_range
        self.onnx_encoder, self.encoder_kind = encoder, encoder_kind
        self.onnx_decoder, self.decoder_kind = decoder, decoder_kind
        self.decoder = nn.Sequential()  # nothing for the browser's MLP decoder to take: decodes on the server
        shas = [g.sha256 for g in (encoder, decoder) if g is not None]
        self.content_id = hashlib.sha256("".join(shas).encode()).hexdigest()[:16]

    @property
    def can_encode(self) -> bool:
        return self.onnx_encoder is not None

    @property
    def can_decode(self) -> bool:
        return self.onnx_decoder is not None

    def encode(self, x: torch.Tensor) -> Posterior:
        if self.onnx_encoder is None:
            raise OnnxError("this ONNX model has no encoder: codes need one", key="err_onnx_onnx_model_encoder")
        lo, hi = self.value_range
        array = x.detach().to(torch.float32).numpy() * (hi - lo) + lo  # [0, 1] -> the model's range
        names = ONNX_ENCODER_OUTPUTS[self.encoder_kind]
        out = self.onnx_encoder(array, {name: (self.latent_dim,) for name in names})
        mean = torch.from_numpy(out[names[0]])
        if not self.is_variational:
            return Posterior(mean, None)
        logvar = torch.from_numpy(out["logvar"]).clamp(*LOGVAR_RANGE)
        return Posterior(mean, torch.exp(0.5 * logvar))

    def _decoded(self, z: torch.Tensor) -> torch.Tensor:
        if self.onnx_decoder is None:
            raise OnnxError("this ONNX model has no decoder: images need one", key="err_onnx_onnx_model_decoder")
        out = self.onnx_decoder(z.detach().to(torch.float32).numpy(), {self.decoder_kind: tuple(self.config.in_shape)})
        return torch.from_numpy(out[self.decoder_kind])

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        values = self._decoded(z)
        if self.decoder_kind == "logits":
            return values
        return torch.logit(self._unit(values), eps=1e-6)

    def _unit(self, values: torch.Tensor) -> torch.Tensor:
        lo, hi = self.value_range
        return values.clamp(0, 1) if self.decoder_kind == "probabilities" else ((values - lo) / (hi - lo)).clamp(0, 1)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        values = self._decoded(z)
        return torch.sigmoid(values) if self.decoder_kind == "logits" else self._unit(values)

    def forward(self, x: torch.Tensor, sample: bool | None = None, noise: torch.Tensor | None = None):
        from .models import Output, reparameterise

        posterior = self.encode(x)
        z = reparameterise(posterior, bool(sample), noise)
        return Output(self.decode_logits(z), z, posterior)


# --- sets -------------------------------------------------------------------------------------------


def read_manifest(directory: str | Path) -> dict[str, Any]:
    """The manifest after the schema passed; CheckpointError names what is wrong."""
    path = Path(directory) / MANIFEST
    try:
        if path.stat().st_size > 1_000_000:
            raise CheckpointError(f"{MANIFEST}: larger than 1 MB", key="err_onnx_larger", manifest=MANIFEST)
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CheckpointError(
            f"{path}: cannot read it ({exc.strerror or exc})",
            key="err_onnx_cannot_read",
            path=path,
            detail=exc.strerror or exc,
        ) from None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise CheckpointError(
            f"{MANIFEST}: not valid JSON ({type(exc).__name__})",
            key="err_onnx_valid_json",
            manifest=MANIFEST,
            type=type(exc).__name__,
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise CheckpointError(
            f"{MANIFEST}: not a {FORMAT} manifest", key="err_onnx_manifest", manifest=MANIFEST, format=FORMAT
        )
    if manifest.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{MANIFEST}: format version {manifest.get('format_version')!r}; this program reads {FORMAT_VERSION}",
            key="err_onnx_format_version_program",
            manifest=MANIFEST,
            version=repr(manifest.get("format_version")),
            format_version=FORMAT_VERSION,
        )
    try:
        check_manifest(manifest)
    except LatentExplorerError as exc:
        raise CheckpointError(f"{MANIFEST}: {exc}", key="err_onnx_manifest_bad", manifest=MANIFEST, error=exc) from None
    return manifest


def is_pair(manifest: dict[str, Any]) -> bool:
    """An AE and a VAE, each with an encoder and a decoder: every page that compares a pair can use it."""
    models = manifest["models"]
    return set(models) == set(PAIR_KINDS) and all(m.get("encoder") and m.get("decoder") for m in models.values())


def capabilities(manifest: dict[str, Any]) -> frozenset[str]:
    """What the set can do: encode, decode, density (a VAE with both halves and a declared likelihood)."""
    caps = set()
    for kind, member in manifest["models"].items():
        caps |= {"encode"} if member.get("encoder") else set()
        caps |= {"decode"} if member.get("decoder") else set()
        if kind == "vae" and member.get("encoder") == "mu_logvar" and member.get("decoder"):
            caps.add("density")
    return frozenset(caps)


def member_config(manifest: dict[str, Any], kind: str) -> ModelConfig:
    member = manifest["models"][kind]
    return ModelConfig(
        kind=kind,
        family="onnx",  # not a FAMILIES key on purpose: nothing rebuilds this model from the registry
        latent_dim=manifest["latent_dim"],
        hidden=(),
        likelihood=member.get("likelihood", "bernoulli"),
        gaussian_sigma=float(member.get("gaussian_sigma", 0.1)),
        in_shape=tuple(manifest["image_shape"]),
    )


def declared_shapes(manifest: dict[str, Any], kind: str) -> dict[str, tuple[dict, dict]]:
    """part -> (inputs, outputs), each {name: dims after the batch}, as the manifest declares them."""
    member, d, shape = manifest["models"][kind], manifest["latent_dim"], tuple(manifest["image_shape"])
    shapes = {}
    if member.get("encoder"):
        shapes["encoder"] = ({"x": shape}, {n: (d,) for n in ONNX_ENCODER_OUTPUTS[member["encoder"]]})
    if member.get("decoder"):
        shapes["decoder"] = ({"z": (d,)}, {member["decoder"]: shape})
    return shapes


def graph_names(member: dict[str, Any], part: str) -> dict[str, str]:
    """The manifest's name of each input and output of a part (x, mu, logits...) -> the graph's own:
    the same unless the manifest's names say otherwise (a graph exported as input.1 -> 13, 14)."""
    return {role: member.get("names", {}).get(part, {}).get(role, role) for role in onnx_roles(member, part)}


def load_member(directory: Path, manifest: dict[str, Any], kind: str) -> Checkpoint:
    member = manifest["models"][kind]
    graphs: dict[str, Graph] = {}
    for part, (inputs, outputs) in declared_shapes(manifest, kind).items():
        path = directory / graph_file(kind, part)
        names = graph_names(member, part)
        renamed = [{names[role]: dims for role, dims in d.items()} for d in (inputs, outputs)]
        raw = load_graph(path, *renamed)
        want = member.get("sha256", {}).get(part)
        if want is not None and hashlib.sha256(raw).hexdigest() != want:
            raise OnnxError(
                f"{path.name}: does not match its manifest (SHA-256 differs)",
                key="err_onnx_does_match_manifest",
                path=path.name,
            )
        graphs[part] = Graph(raw, path.name, {role: names[role] for role in outputs}, path)
    config = member_config(manifest, kind)
    model = OnnxModel(
        config,
        tuple(manifest["value_range"]),
        graphs.get("encoder"),
        member.get("encoder"),
        graphs.get("decoder"),
        member.get("decoder"),
    )
    run = RunConfig(data=from_dict(DataConfig, manifest["data"]), model=config, train=TrainConfig())
    path = directory / graph_file(kind, "decoder" if "decoder" in graphs else "encoder")
    return Checkpoint(
        model,
        run,
        path,
        data_stats=manifest.get("data_stats") or {},
        metrics=member.get("metrics") or {},
        created=manifest.get("created", ""),
    )


def load_onnx_members(directory: str | Path) -> dict[str, Checkpoint]:
    """kind -> Checkpoint whose .model is an OnnxModel, every graph checked before its first run."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    return {kind: load_member(directory, manifest, kind) for kind in manifest["models"]}


def probe(members: dict[str, Checkpoint], x: torch.Tensor) -> None:
    """Run every graph once on a few test images and codes (import time): a graph that fails, or gives
    NaN, huge or misshapen outputs, is refused here rather than on a page."""
    for kind, checkpoint in members.items():
        model = checkpoint.model
        z = torch.randn(len(x), model.latent_dim, generator=torch.Generator().manual_seed(0)) * 3
        if model.can_encode:
            z = torch.cat([model.encode(x).mean, z])
        if model.can_decode:
            model.decode(z)
            model.decode(torch.zeros(1, model.latent_dim))
