"""Bad input and faults: each refused with a clear message, nothing run, nothing half-written."""

import contextlib
import errno
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from tests.helpers import in_process_workers, npz_bytes, run_cli, wait, zip_with
from training import jobs, limits, store, uploads
from training.checkpoint import load_checkpoint
from training.errors import CheckpointError, DatasetError, LatentExplorerError
from training.store import load_set

ROOT = Path(__file__).resolve().parent.parent


def rewrite_weights(pair: Path, kind: str, change) -> None:
    """Change the tensors, then make the sidecar's hash agree, so the loader's later checks run."""
    weights = pair / f"{kind}.safetensors"
    state = {k: v.clone() for k, v in load_tensors(weights.read_bytes()).items()}
    change(state)
    data = save_tensors(state)
    weights.write_bytes(data)
    sidecar = json.loads((pair / f"{kind}.json").read_text())
    sidecar["weights_sha256"] = hashlib.sha256(data).hexdigest()
    (pair / f"{kind}.json").write_text(json.dumps(sidecar))


@pytest.fixture
def pair(tiny_pair_dir, tmp_path):
    target = tmp_path / "pair"
    shutil.copytree(tiny_pair_dir, target)
    return target


def first_key(state):
    return sorted(state)[0]


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda s: s.update({first_key(s): s[first_key(s)].double()}), "expected float32"),
        (lambda s: s[first_key(s)].view(-1).__setitem__(0, float("nan")), "NaN or infinite"),
        (lambda s: s[first_key(s)].view(-1).__setitem__(0, float("inf")), "NaN or infinite"),
        (lambda s: s.update({first_key(s): s[first_key(s)][:1]}), "shape"),
        (lambda s: s.pop(first_key(s)), "missing"),
        (lambda s: s.update({"extra": torch.zeros(2)}), "unexpected"),
    ],
    ids=["float64", "nan", "inf", "wrong-shape", "missing-tensor", "extra-tensor"],
)
def test_bad_weights_are_refused(pair, change, message):
    rewrite_weights(pair, "vae", change)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(pair / "vae")


def test_loading_never_unpickles(pair, monkeypatch):
    import pickle

    def refuse(*args, **kwargs):
        raise AssertionError("a checkpoint load tried to unpickle")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(torch, "load", refuse)
    load_set(pair)  # loads without any of them
    (pair / "vae.safetensors").write_bytes(pickle.dumps({"w": 1}))  # a pickle where weights belong
    with pytest.raises(CheckpointError):
        load_checkpoint(pair / "vae")


@pytest.mark.slow  # 60 mutants; test_checkpoint covers each refusal once
@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    target=st.sampled_from(["ae.safetensors", "vae.json", "vae.safetensors"]),
    position=st.floats(0, 1),
    payload=st.binary(min_size=0, max_size=16),
    mode=st.sampled_from(["overwrite", "truncate", "insert"]),
    fix_hash=st.booleans(),
)
def test_mutated_checkpoints_load_correctly_or_give_the_message(
    tiny_pair_dir, tmp_path_factory, target, position, payload, mode, fix_hash
):
    pair = tmp_path_factory.mktemp("mutant") / "pair"
    shutil.copytree(tiny_pair_dir, pair)
    path = pair / target
    data = bytearray(path.read_bytes())
    at = int(position * len(data))
    if mode == "overwrite":
        data[at : at + len(payload)] = payload
    elif mode == "truncate":
        del data[at:]
    else:
        data[at:at] = payload
    path.write_bytes(bytes(data))
    if fix_hash and target.endswith(".safetensors"):
        sidecar_path = path.with_suffix(".json")
        sidecar = json.loads(sidecar_path.read_text())
        sidecar["weights_sha256"] = hashlib.sha256(bytes(data)).hexdigest()
        sidecar_path.write_text(json.dumps(sidecar))
    try:
        loaded = load_set(pair)
    except CheckpointError as exc:
        assert str(exc)  # the one clear error; anything else fails the test
    else:
        z = torch.zeros(1, loaded["vae"].config.model.latent_dim)
        assert torch.isfinite(loaded["vae"].model.decode(z)).all()


SAVER = """
import sys, torch
sys.path.insert(0, {root!r})
from training.checkpoint import save_checkpoint
from training.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from training.models import build_model
config = RunConfig(DataConfig("moons"), ModelConfig(kind="vae", latent_dim=2, hidden=(256, 128), in_shape=(1, 28, 28)),
                   TrainConfig())
model = build_model(config.model)
print("ready", flush=True)
i = 0
while True:
    with torch.no_grad():  # every save differs; the weights stay within 0.01 of ordinary ones
        for p in model.parameters():
            p.add_(0.01 if i % 2 == 0 else -0.01)
    save_checkpoint({out!r}, model, config, metrics={{"i": i}})
    i += 1
"""


@pytest.mark.slow
def test_sigkill_while_saving_leaves_a_loadable_checkpoint(tmp_path):
    """A real process saving in a loop is killed with SIGKILL at different moments."""
    out = tmp_path / "ckpt"
    kills = 0
    for delay in (0.05, 0.13, 0.29, 0.41, 0.57, 0.83):
        proc = subprocess.Popen(
            [sys.executable, "-c", SAVER.format(root=str(ROOT), out=str(out))], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout.readline().strip() == "ready"
        if not (out / "vae.json").exists():
            time.sleep(1.0)  # the first save
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        checkpoint = load_checkpoint(out / "vae")  # the previous (or newest) checkpoint loads
        assert checkpoint.config.model.hidden == (256, 128)
        visible = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
        assert visible == ["vae.json", "vae.safetensors"]  # no half-written file where a loader looks
    assert kills == 6


# --- uploads ------------------------------------------------------------------------------------


def png_bytes(size, mode="L") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size).save(buf, format="PNG")
    return buf.getvalue()


def symlink_entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = 0o120777 << 16
    return info


ATTACKS = {
    "decompression bomb": (
        "bomb.zip",
        zip_with([("a.png", png_bytes((5000, 5000)))]),
        "the limit is 1,048,576 per image",
    ),
    "absolute path": ("abs.zip", zip_with([("/etc/evil.png", png_bytes((8, 8)))]), "outside the archive"),
    "dot-dot path": ("up.zip", zip_with([("a/../../evil.png", png_bytes((8, 8)))]), "outside the archive"),
    "symlink": ("link.zip", zip_with([(symlink_entry("a.png"), "/etc/passwd")]), "symbolic link"),
    "non-image": ("x.zip", zip_with([("a.png", png_bytes((8, 8))), ("run.py", b"import os")]), "only PNG and JPEG"),
    "too many files": ("many.zip", None, "the limit is 3"),
    "huge side": ("side.zip", zip_with([("a.png", png_bytes((200, 8)))]), "4 to 128 pixels"),
    "strings as pixels": ("str.npz", npz_bytes(x=np.array([["a"] * 8] * 8 * 4).reshape(4, 8, 8)), "must be numbers"),
    "complex pixels": ("c.npz", npz_bytes(x=np.zeros((4, 8, 8), dtype=complex)), "must be numbers"),
    "bool pixels": ("b.npz", npz_bytes(x=np.zeros((4, 8, 8), dtype=bool)), "must be numbers"),
    "NaN": ("n.npz", npz_bytes(x=np.full((4, 8, 8), np.nan)), "NaN"),
    "infinite": ("i.npz", npz_bytes(x=np.full((4, 8, 8), np.inf)), "NaN or infinite"),
    "bad labels": ("y.npz", npz_bytes(x=np.zeros((4, 8, 8)), y=np.array([0, 1, -1, 2])), "'y' must be"),
}


@pytest.mark.parametrize("case", list(ATTACKS))
def test_hostile_uploads_are_refused_and_write_nothing(tmp_path, monkeypatch, case):
    name, data, message = ATTACKS[case]
    if case == "too many files":
        monkeypatch.setattr(limits, "MAX_IMAGES", 3)
        data = zip_with([(f"{i}.png", png_bytes((8, 8))) for i in range(5)])
    root = tmp_path / "uploads"
    before = set(tmp_path.rglob("*"))
    with pytest.raises(DatasetError, match=message):
        uploads.import_upload(name, data, root)
    assert set(tmp_path.rglob("*")) - before <= {root}  # at most the (empty) uploads folder itself
    assert not root.exists() or list(root.iterdir()) == []


# --- training input, names and paths ------------------------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        (["--dataset", "imagenet"], "unknown dataset"),
        (["--lr", "1e6"], "learning rate"),
        (["--latent-dim", "0"], "latent size"),
        (["--latent-dim", "10000"], "latent size"),
        (["--epochs", "0"], "epochs"),
        (["--dataset", "npz"], "needs a file"),
        (["--hidden", "0"], "hidden sizes"),
    ],
)
def test_bad_training_input_is_one_clear_line(tmp_path, args, message):
    done = run_cli("train", *args, "--out", str(tmp_path / "x"))
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "x").exists()


def test_a_diverging_background_run_is_marked_failed(tmp_path, monkeypatch):
    in_process_workers(monkeypatch)  # the worker must see the patched loss
    from training import fit as fit_module
    from training.config import DataConfig, ModelConfig, RunConfig, TrainConfig
    from training.losses import LossTerms

    real = fit_module.loss_terms

    def diverging(*args, **kwargs):
        terms = real(*args, **kwargs)
        return LossTerms(terms.total * float("nan"), terms.reconstruction, terms.kl)

    monkeypatch.setattr(fit_module, "loss_terms", diverging)
    config = RunConfig(
        DataConfig("moons", n_train=64, n_test=16, image_size=8), ModelConfig(hidden=(8,)), TrainConfig(epochs=3)
    )
    job = wait(jobs.start_job(config, tmp_path))
    assert job.status == "failed" and "loss became nan" in job.message
    assert not list(tmp_path.glob("*/*.safetensors"))


def test_a_run_over_the_time_limit_stops_and_says_so(tmp_path, monkeypatch):
    from training.config import DataConfig, ModelConfig, RunConfig, TrainConfig

    in_process_workers(monkeypatch)
    monkeypatch.setattr(jobs, "MAX_RUN_SECONDS", 0)
    config = RunConfig(
        DataConfig("moons", n_train=64, n_test=16, image_size=8), ModelConfig(hidden=(8,)), TrainConfig(epochs=50)
    )
    job = wait(jobs.start_job(config, tmp_path))  # the limit is written into the run's job.json
    assert job.status == "failed" and "time limit of 0 minutes" in job.message
    assert not list(tmp_path.glob("*/*.safetensors"))


def test_polling_a_starting_run_never_takes_its_workers_hold(tmp_path, monkeypatch):
    """CI caught it: a tab's poll (jobs.wait -> reap) held a live run's folder for a moment just as its
    worker asked for the hold, and the run failed with 'another run ... is writing this folder'."""
    from training.config import DataConfig, ModelConfig, RunConfig, TrainConfig

    in_process_workers(monkeypatch)
    taken = []
    real_hold = store.hold

    def watched(folder, patience=0.0):
        taken.append(patience)
        return real_hold(folder, patience)

    monkeypatch.setattr(jobs, "hold", watched)
    config = RunConfig(
        DataConfig("moons", n_train=64, n_test=16, image_size=8), ModelConfig(hidden=(8,)), TrainConfig(epochs=3)
    )
    job = jobs.start_job(config, tmp_path)
    while jobs.get_run(job.run_id, tmp_path).status in ("queued", "running"):
        jobs.reap(tmp_path / job.run_id)  # as fast as a poll can: it must never hold a live run
        time.sleep(0.002)
    assert jobs.get_run(job.run_id, tmp_path).status == "finished"
    assert taken == [0.0, 3.0]  # start_job's, then the worker's: none from the polls


def test_a_worker_waits_out_a_brief_hold_of_its_folder(tmp_path, monkeypatch):
    """A reader's hold of a moment (a removal refused, a reap) delays a starting worker; it does not fail it."""
    import threading

    from training.config import DataConfig, ModelConfig, RunConfig, TrainConfig

    in_process_workers(monkeypatch)
    started = jobs.start_job  # queue with no free slot first, so the run starts only after we hold it
    monkeypatch.setattr(jobs, "promote", lambda runs_dir: None)
    config = RunConfig(
        DataConfig("moons", n_train=64, n_test=16, image_size=8), ModelConfig(hidden=(8,)), TrainConfig(epochs=2)
    )
    job = started(config, tmp_path)
    monkeypatch.undo()
    in_process_workers(monkeypatch)
    held, release = threading.Event(), threading.Event()

    def reader():
        with store.hold(tmp_path / job.run_id):
            held.set()
            release.wait(5)

    threading.Thread(target=reader, daemon=True).start()
    held.wait(5)
    jobs.promote(tmp_path)
    time.sleep(1.0)  # the worker is waiting for the hold now
    release.set()
    assert wait(job).status == "finished"


def test_paths_from_the_ui_stay_inside_the_allowed_roots(tmp_path, monkeypatch):
    from training.store import allowed_path, set_path

    monkeypatch.setenv("LATENT_EXPLORER_IMPORT_ROOTS", str(tmp_path / "ok"))
    (tmp_path / "ok" / "pair").mkdir(parents=True)
    assert allowed_path(str(tmp_path / "ok" / "pair")) == (tmp_path / "ok" / "pair").resolve()
    for outside in ("/etc", str(tmp_path / "ok" / ".." / "elsewhere"), "~"):
        with pytest.raises(LatentExplorerError, match="limited to"):
            allowed_path(outside)
    (tmp_path / "ok" / "link").symlink_to("/etc")
    with pytest.raises(LatentExplorerError, match="limited to"):
        allowed_path(str(tmp_path / "ok" / "link"))
    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(tmp_path / "runs"))
    assert set_path("runs/x").parent == tmp_path / "runs"


def test_run_names_cannot_leave_runs():
    for hostile in ("../../etc", "/abs/path", "a/../../b", "<script>alert(1)</script>", "..", "\x00"):
        name = store.safe_name(hostile)
        assert "/" not in name and ".." not in name and "<" not in name and name not in ("", ".", "..")


# --- Hardening III (issue 25), class 3: two writers, one folder ------------------------------------------


def test_a_second_writer_of_a_held_folder_is_refused_at_once_and_the_lock_is_released(tmp_path):
    out = tmp_path / "pair"
    with store.hold(out):
        started = time.monotonic()
        done = run_cli("train", "--dataset", "moons", "--n-train", "64", "--n-test", "8", "--epochs", "1",
                       "--out", str(out))  # fmt: skip
        assert time.monotonic() - started < 10  # refused before any data or training, not after
        assert done.returncode == 2 and "is writing this folder" in done.stderr and "Traceback" not in done.stderr
        assert not out.exists()
        with pytest.raises(store.FolderBusy, match=f"process {__import__('os').getpid()}"):
            with store.hold(out):  # a second hold in the same process (another thread, another session)
                pass
    assert list(tmp_path.iterdir()) == []  # released: no lock file left behind
    with store.hold(out):
        pass


@pytest.mark.slow  # two real processes importing torch, ~20 s
def test_two_cli_runs_started_together_with_one_out_one_saves_the_other_is_refused(tmp_path):
    out = tmp_path / "pair"
    args = [sys.executable, "-m", "training", "train", "--dataset", "moons", "--n-train", "256", "--n-test", "24",
            "--image-size", "16", "--hidden", "32", "--epochs", "20", "--quiet", "--out", str(out)]  # fmt: skip
    procs = [subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in "ab"]
    results = [(p.wait(600), *p.communicate()) for p in procs]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 2], results
    refused = next(err for code, _, err in results if code == 2)
    assert "is writing this folder" in refused and "Traceback" not in refused
    saved = next(out_text for code, out_text, _ in results if code == 0)
    members = load_set(out)  # one run's pair, both members from the same process
    assert members["ae"].config.train.seed == members["vae"].config.train.seed and "saved to" in saved
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pair"]


def test_app_runs_and_imports_of_one_name_never_share_a_folder(tmp_path, tiny_pair_dir, monkeypatch):
    from tests.helpers import tiny_run

    runs = tmp_path / "runs"
    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(runs))
    with store.hold(runs / "mine"):  # another process writes a set named "mine" right now
        with pytest.raises(store.FolderBusy, match="is writing this folder"):  # refused at once, nothing queued
            jobs.start_job(tiny_run(), runs, name="mine")
        assert not (runs / "mine").exists()
        assert store.import_set(tiny_pair_dir, "mine") == "runs/mine-2"  # an import takes the next free name
    (runs / "late").mkdir()  # saved by another process after this one chose the name
    from training.runs import train_and_save

    with pytest.raises(LatentExplorerError, match="saved meanwhile"):
        train_and_save(tiny_run(), runs / "late", new=True)
    with store.hold(runs / "up"):
        assert uploads.import_upload("up.npz", npz_bytes(x=np.zeros((8, 8, 8), np.uint8)), runs).path.name == "up-2"


def test_the_bundled_sets_are_not_overwritten_without_force(tmp_path, monkeypatch):
    bundled = ROOT / "checkpoints"
    before = {p: p.stat().st_mtime_ns for p in bundled.rglob("*")}
    done = run_cli("train", "--epochs", "1", "--out", str(bundled / "digits-2d"))
    assert done.returncode == 2 and "--force" in done.stderr and "bundled sets" in done.stderr
    done = run_cli("train", "--epochs", "1", "--out", str(bundled / "new-one"))
    assert done.returncode == 2 and "--force" in done.stderr
    assert store.check_out_dir(bundled / "digits-2d", force=True) == bundled / "digits-2d"  # allowed, nothing written
    from tests.helpers import tiny_run

    with pytest.raises(LatentExplorerError, match="bundled sets"):  # refused before anything is queued
        jobs.start_job(tiny_run(), bundled)  # the app with its runs folder set to checkpoints/
    assert {p: p.stat().st_mtime_ns for p in bundled.rglob("*")} == before


# --- Hardening III (issue 25), class 5: faults of the disk -------------------------------------------------


@contextlib.contextmanager
def disk(path: Path, fault: str, monkeypatch):
    """path on a 2 MiB tmpfs that is full, or mounted read-only. Where mount is not permitted (an
    unprivileged CI container) the fault is simulated: every open or mkdir below path raises the errno."""
    path.mkdir()
    options = "size=2m" if fault == "full" else "size=2m,ro"
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    if mounted.returncode == 0:
        try:
            if fault == "full":
                with open(path / "filler", "wb") as f:
                    with contextlib.suppress(OSError):
                        while True:
                            f.write(b"\0" * 65536)
                            f.flush()
            yield "tmpfs"
        finally:
            subprocess.run(["umount", "-l", str(path)], check=True)
        return
    code = errno.ENOSPC if fault == "full" else errno.EROFS
    real_open, real_os_open, real_mkdir = open, os.open, os.mkdir

    def inside(p) -> bool:
        return str(Path(os.fsdecode(p)).absolute()).startswith(str(path))

    def refuse(real):
        def call(p, *args, **kwargs):
            empty = real is real_mkdir or str(p).endswith(store.LOCK_SUFFIX)  # a full disk still takes these
            writes = "w" in str(args[:1]) or (real is real_os_open and args and args[0] & (os.O_WRONLY | os.O_RDWR))
            if inside(p) and (fault == "read-only" or (writes and not empty)):
                raise OSError(code, os.strerror(code), str(p))
            return real(p, *args, **kwargs)

        return call

    monkeypatch.setattr("builtins.open", refuse(real_open))
    monkeypatch.setattr(io, "open", refuse(real_open))  # zipfile (np.savez) opens through io.open
    monkeypatch.setattr(os, "open", refuse(real_os_open))
    monkeypatch.setattr(os, "mkdir", refuse(real_mkdir))
    monkeypatch.setattr(
        shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(2**21, 2**21, 0) if inside(p) else real_usage(p)
    )
    yield "simulated"


real_usage = shutil.disk_usage


def visible(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name != "filler") if root.is_dir() else []


@pytest.mark.parametrize("fault", ["full", "read-only"])
def test_a_full_or_read_only_runs_folder_refuses_every_write_with_one_message(
    tmp_path, tiny_pair_dir, monkeypatch, fault
):
    root = tmp_path / "disk"
    with disk(root, fault, monkeypatch):
        message = "MiB free" if fault == "full" else "cannot write there"
        done = run_cli("train", "--dataset", "moons", "--n-train", "64", "--n-test", "8", "--image-size", "8",
                       "--hidden", "8", "--epochs", "1", "--out", str(root / "pair"))  # fmt: skip
        assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr, done.stderr
        monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(root))
        with pytest.raises(LatentExplorerError, match="could not be written|cannot write there"):
            store.import_set(tiny_pair_dir, "copied")
        with pytest.raises(LatentExplorerError, match="could not be written|cannot write there"):
            uploads.import_upload("u.npz", npz_bytes(x=np.zeros((8, 8, 8), np.uint8)), root)
        assert visible(root) == []  # nothing half-written, no staging, no lock file
        assert store.find_sets("pair")  # the bundled sets are listed still


def test_a_save_that_meets_a_full_disk_mid_way_leaves_nothing(tmp_path, monkeypatch):
    from tests.helpers import tiny_run
    from training import runs

    root = tmp_path / "disk"
    monkeypatch.setattr(runs, "check_free_space", lambda *a: None)  # the disk fills during the run
    with disk(root, "full", monkeypatch):
        with pytest.raises(LatentExplorerError, match="could not be written .*nothing was saved"):
            runs.train_and_save(tiny_run(), root / "pair", progress_bar=False)
        assert visible(root) == []


@pytest.mark.slow  # AppTest of three pages
def test_pages_keep_serving_when_the_runs_folder_is_removed_or_read_only(app_runs, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    runs = tmp_path / "runs"
    shutil.copytree(app_runs, runs)
    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(runs))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.query_params.update({"pair": "runs/tiny-moons", "dataset": "moons"})
    at.run()
    assert not at.exception and at.sidebar.selectbox(key="pair").value == "runs/tiny-moons"
    shutil.rmtree(runs)  # removed while the server runs
    for page in ("latent_map", "decoder", "train"):
        if page != "latent_map":
            at.switch_page(f"explorer/ui/pages/{page}.py")
        at.run()
        assert not at.exception, (page, at.exception)
        assert "runs/tiny-moons" not in at.sidebar.selectbox(key="pair").options


@pytest.mark.slow  # a real training process, killed during its save, ~20 s
def test_kill_9_during_a_save_then_restart_leaves_nothing_listed_and_nothing_stuck(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    monkeypatch.setenv("LATENT_EXPLORER_RUNS", str(runs))
    flags = "--dataset moons --n-train 256 --n-test 24 --image-size 16 --hidden 32 --epochs 3 --quiet".split()
    args = [sys.executable, "-m", "training", "train", *flags, "--out", str(runs / "pair")]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not list(runs.glob(f".pair.*{store.STAGING_SUFFIX}")) and proc.poll() is None:  # the save has begun
        assert time.monotonic() < deadline
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (runs / "pair").exists() and "runs/pair" not in store.find_sets()  # nothing half-written listed
    assert store.clean_stale_staging(runs, older_than=0) or not list(runs.glob(f".*{store.STAGING_SUFFIX}"))
    done = run_cli(*args[3:])  # the restart: the folder is not held by the dead process
    assert done.returncode == 0, done.stderr
    assert "runs/pair" in store.find_sets()
    index_files = {store.INDEX, store.INDEX_LOCK}  # the runs index's own files, written by every listing
    assert [name for name in visible(runs) if name not in index_files] == ["pair"]  # no staging left, no lock
