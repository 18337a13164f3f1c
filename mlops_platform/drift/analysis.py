"""Per-feature PSI of a recent sample against the reference, with every data problem named."""

from __future__ import annotations

import pandas as pd
from pandas.api import types

from mlops_platform.drift.errors import DataError
from mlops_platform.drift.psi import FeatureDrift, categorical_psi, numeric_psi

MIN_ROWS = 50  # per feature and sample: fewer values cannot fill ten quantile bins meaningfully


def _numeric(column: pd.Series) -> bool:
    return types.is_numeric_dtype(column) and not types.is_bool_dtype(column)


def feature_drift(reference: pd.DataFrame, recent: pd.DataFrame) -> list[FeatureDrift]:
    """PSI of every feature (column) of ``reference``; extra columns of ``recent`` are ignored.

    Raises:
        DataError: a reference feature is missing from the recent inputs, a numeric reference feature
            holds non-numeric recent values, or a sample has fewer than ``MIN_ROWS`` values of a feature.
    """
    missing = [str(c) for c in reference.columns if c not in recent.columns]
    if missing:
        raise DataError(f"recent prediction inputs lack the reference's feature(s) {', '.join(missing)}")
    results = []
    for name in reference.columns:
        ref, new = reference[name].dropna(), recent[name].dropna()
        for sample, values in (("reference", ref), ("recent", new)):
            if len(values) < MIN_ROWS:
                raise DataError(
                    f"feature {name!s}: the {sample} sample has {len(values)} value(s), fewer than {MIN_ROWS}"
                )
        if _numeric(ref):
            if not _numeric(new):
                raise DataError(
                    f"feature {name!s} is numeric in the reference but the recent inputs hold "
                    f"non-numeric values ({new.dtype})"
                )
            psi = numeric_psi(ref.to_numpy(dtype="float64"), new.to_numpy(dtype="float64"))
        else:
            psi = categorical_psi(ref.astype(str).to_numpy(dtype=str), new.astype(str).to_numpy(dtype=str))
        results.append(
            FeatureDrift(feature=str(name), psi=psi, reference_rows=len(ref), recent_rows=len(new))
        )
    if not results:
        raise DataError("the reference sample has no feature columns")
    return results
