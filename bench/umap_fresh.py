"""UMAP of N codes in a fresh process, as the app runs it: `python bench/umap_fresh.py N` prints
the import and the fit seconds."""

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
t0 = time.perf_counter()
import umap  # noqa: E402,F401

from explorer.projection import UMAP  # noqa: E402

t1 = time.perf_counter()
codes = np.random.default_rng(0).standard_normal((n, 16)).astype(np.float32)
UMAP().fit(codes)
t2 = time.perf_counter()
print(f"{t1 - t0:.3f} {t2 - t1:.3f}")
