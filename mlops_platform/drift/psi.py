"""Population stability index (PSI) of one feature, with numpy only.

PSI = sum over bins of (recent% - reference%) * ln(recent% / reference%). Numeric features are cut at
the reference's deciles (quantile bins: each holds about a tenth of the reference, so no bin is
empty by construction on the reference side), the outer bins open-ended so that recent values outside
the reference's range still count. Categorical features use one bin per reference category plus one
for categories the reference never saw. A bin that is empty on either side would make the logarithm
infinite: shares are floored at ``EPSILON``, the usual practice (a recent share of 0 then adds a
large, finite term). numpy is enough for this; scipy would add ``rel_entr``, which is the same sum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

BINS = 10  # deciles: the customary PSI binning (about 10 % of the reference per bin)
EPSILON = 1e-4  # floor of a bin's share; ln(0.1 / 1e-4) ~ 6.9 bounds one empty bin's term
UNSEEN = "\x00unseen"  # the bin of categories absent from the reference


@dataclass(frozen=True, kw_only=True)
class FeatureDrift:
    feature: str
    psi: float
    reference_rows: int
    recent_rows: int


def _psi(expected: npt.NDArray[np.float64], actual: npt.NDArray[np.float64]) -> float:
    e = np.maximum(expected / expected.sum(), EPSILON)
    a = np.maximum(actual / actual.sum(), EPSILON)
    return float(np.sum((a - e) * np.log(a / e)))


def numeric_psi(
    reference: npt.NDArray[np.float64], recent: npt.NDArray[np.float64], bins: int = BINS
) -> float:
    """PSI of a numeric feature over the reference's quantile bins (both samples without NaN, non-empty).

    Ties in the reference (a feature with few distinct values) merge quantile edges; the distinct
    edges remain, so such a feature gets fewer, still non-empty, bins.
    """
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1))[1:-1])
    # side="right": a value equal to an edge falls in the bin above it, as np.digitize does.
    expected = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=edges.size + 1)
    actual = np.bincount(np.searchsorted(edges, recent, side="right"), minlength=edges.size + 1)
    return _psi(expected.astype(np.float64), actual.astype(np.float64))


def categorical_psi(reference: npt.NDArray[np.str_], recent: npt.NDArray[np.str_]) -> float:
    """PSI of a categorical feature: one bin per reference category, one for the unseen rest."""
    categories = np.unique(reference)
    seen = np.isin(recent, categories)
    expected = np.array([np.count_nonzero(reference == c) for c in categories] + [0], dtype=np.float64)
    actual = np.array(
        [np.count_nonzero(recent[seen] == c) for c in categories] + [np.count_nonzero(~seen)],
        dtype=np.float64,
    )
    return _psi(expected, actual)


def drifted_share(results: list[FeatureDrift], psi_threshold: float) -> float:
    """The share of features whose PSI is above ``psi_threshold`` (the alert's strict ``>``)."""
    if not results:
        raise ValueError("no feature to judge")
    return sum(r.psi > psi_threshold for r in results) / len(results)
