"""Statistics for few seeds: exact paired sign-flip tests and Student-t intervals (imported by the lab,
the metrics, the sweep and the pages; it imports nothing of the project's)."""

from __future__ import annotations

import numpy as np

LEVEL = 0.95
SAME_WITHIN = 0.05  # a ratio whose whole interval lies within 5 % of 1 is "the same"


def sign_flip_p(d: np.ndarray) -> float:
    """Exact two-sided p of a paired sign-flip (permutation) test that the differences d are centred on 0:
    the share of all 2^n sign patterns whose |mean| reaches the observed one. Exact whatever the
    differences' distribution, so right for few seeds; with n pairs it cannot go below 2 / 2^n."""
    d = np.asarray(d, dtype=np.float64)
    n, observed = len(d), abs(d.mean())
    reach = 0
    for start in range(0, 2**n, 1 << 16):  # in chunks: 2^20 patterns at 20 seeds
        patterns = np.arange(start, min(start + (1 << 16), 2**n))[:, None] >> np.arange(n) & 1  # (m, n)
        reach += int((np.abs((1 - 2 * patterns) @ d) / n >= observed - 1e-12 * max(observed, 1)).sum())
    return reach / 2**n


def sign_flip_floor(n: int) -> float:
    """The smallest p an exact two-sided sign-flip test of n pairs can give: 2 / 2^n (0.0625 at 5 seeds)."""
    return 2 / 2**n


def t_interval(d: np.ndarray, level: float = LEVEL) -> tuple[float, float, float]:
    """Mean of d and its Student-t interval (mean, low, high); a zero-width interval for one value."""
    from scipy.stats import t

    d = np.asarray(d, dtype=np.float64)
    mean = float(d.mean())
    if len(d) < 2:
        return mean, mean, mean
    half = float(t.ppf((1 + level) / 2, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d)))
    return mean, mean - half, mean + half


def t_test_p(d: np.ndarray) -> float:
    """Two-sided p of a one-sample t-test that d is centred on 0 (1 for fewer than two values or no spread).
    Used where the seeds are too few for a sign-flip test to reach 5 % (3 seeds: p >= 0.25) and the
    differences are large against their spread: it assumes them roughly normal."""
    from scipy.stats import ttest_1samp

    d = np.asarray(d, dtype=np.float64)
    if len(d) < 2 or d.std() == 0:
        return 1.0
    return float(ttest_1samp(d, 0.0).pvalue)
