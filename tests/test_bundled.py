"""Every bundled set in checkpoints/ loads and encodes/decodes exactly as it did before the models
were refactored (issue 12). The reference was written by the pre-refactor code (commit 1421a9b) with
`python tests/test_bundled.py --write`; rewrite it only when `make defaults` rebuilds checkpoints/.
"""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "tests" / "data" / "bundled_outputs.npz"
SETS = sorted(p.parent.name for p in (ROOT / "checkpoints").glob("*/*.json"))


def outputs(directory: Path) -> dict[str, np.ndarray]:
    """Encoder means/stds and decodes of seeded inputs, for every model in a set folder."""
    from training.checkpoint import load_checkpoint

    out = {}
    for sidecar in sorted(directory.glob("*.json")):
        model = load_checkpoint(sidecar).model
        cfg = model.config
        g = torch.Generator().manual_seed(0)
        x = torch.rand((3, *cfg.in_shape), generator=g)
        key = f"{directory.name}/{cfg.kind}"
        with torch.no_grad():
            if cfg.kind in ("ae", "vae"):
                posterior = model.encode(x)
                out[f"{key}/decode"] = model.decode(torch.randn(3, cfg.latent_dim, generator=g)).numpy()
            else:
                width = cfg.n_classes if cfg.condition == "label" else 2 * int(np.prod(cfg.in_shape))
                c = torch.rand(3, width, generator=g)
                if cfg.kind == "regression":
                    out[f"{key}/decode"] = model.decode(c).numpy()
                    continue
                posterior = model.encode(x, c)
                out[f"{key}/decode"] = model.decode(torch.randn(3, cfg.latent_dim, generator=g), c).numpy()
            out[f"{key}/mean"] = posterior.mean.numpy()
            if posterior.std is not None:
                out[f"{key}/std"] = posterior.std.numpy()
    return out


def all_outputs() -> dict[str, np.ndarray]:
    result = {}
    for name in sorted(set(SETS)):
        result.update(outputs(ROOT / "checkpoints" / name))
    return result


@pytest.mark.parametrize("name", sorted(set(SETS)))
def test_bundled_set_decodes_as_before(name):
    from training.store import load_set

    loaded = load_set(ROOT / "checkpoints" / name)
    assert loaded.kinds  # every member loaded through the store
    reference = np.load(REFERENCE)
    now = outputs(ROOT / "checkpoints" / name)
    expected = {k: reference[k] for k in reference.files if k.startswith(f"{name}/")}
    assert set(now) == set(expected) and expected
    for key, value in expected.items():
        # Float tolerance, not equality: CPUs with other vector units round matmuls differently (~3e-7);
        # a changed model or loader moves outputs by orders of magnitude more.
        np.testing.assert_allclose(now[key], value, rtol=1e-5, atol=1e-6, err_msg=key)


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    sys.path.insert(0, str(ROOT))
    torch.set_num_threads(1)  # as in conftest: conv kernels round differently with more threads
    REFERENCE.parent.mkdir(exist_ok=True)
    np.savez_compressed(REFERENCE, **all_outputs())
    print(f"wrote {REFERENCE}")
