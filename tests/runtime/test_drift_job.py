"""The drift job against a real S3 server (moto) and a real Pushgateway, all on loopback.

Data is generated here (seeded), written as CSV to ``s3://<bucket>/drift/<model>/``; the job runs as
the CronJob runs it, ``python -m mlops_platform.drift`` with its settings in the environment, in the
runtime venv. What it pushed is read back from the Pushgateway's API.
"""

from __future__ import annotations

import csv
import io
import math
import random
import subprocess
import uuid
from collections.abc import Callable, Sequence

import pytest

from tests.runtime import venvs
from tests.runtime.conftest import S3, Pushgateway, free_port

BUCKET = "datasets"
ROWS = 2000
JOB_TIMEOUT_S = 120
Row = dict[str, object]


def _rows(seed: int, shift: float = 0.0, cities: Sequence[str] = ("paris", "lyon", "nice")) -> list[Row]:
    """``ROWS`` rows: ``amount`` and ``age`` move by ``shift`` standard deviations, ``score`` and
    ``city`` never do."""
    rng = random.Random(seed)
    return [
        {
            "amount": rng.gauss(100 + 20 * shift, 20),
            "age": rng.gauss(40 + 10 * shift, 10),
            "score": rng.random(),
            "city": rng.choice(cities),
        }
        for _ in range(ROWS)
    ]


def _csv(rows: list[Row]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


@pytest.fixture(scope="module")
def bucket(s3: S3) -> S3:
    s3.upload(BUCKET, {}, create=True)
    return s3


@pytest.fixture
def model() -> str:
    return f"model-{uuid.uuid4().hex[:8]}"


def run_job(s3: S3, gateway: str, model: str, **overrides: str) -> subprocess.CompletedProcess[str]:
    env = venvs.runtime_env(
        MODEL_NAME=model,
        DRIFT_BUCKET=BUCKET,
        AWS_ENDPOINT_URL=s3.endpoint,
        AWS_ACCESS_KEY_ID="test-access",
        AWS_SECRET_ACCESS_KEY="test-secret",
        PUSHGATEWAY_URL=gateway,
        PSI_THRESHOLD="0.2",
        FEATURE_SHARE_THRESHOLD="0.3",
    )
    for key, value in overrides.items():
        if value:
            env[key] = value
        else:
            env.pop(key, None)
    return subprocess.run(
        [str(venvs.runtime_python()), "-m", "mlops_platform.drift"],
        env=env,
        capture_output=True,
        text=True,
        timeout=JOB_TIMEOUT_S,
        check=False,
    )


def pushed(pushgateway: Pushgateway, model: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Metric name -> (labels without job/model/instance) -> value, of the model's group."""
    group = pushgateway.group(model)
    assert group is not None, f"nothing pushed for {model}"
    assert group["labels"] == {"job": "mlops-drift", "model": model}
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for name, family in group.items():
        if not isinstance(family, dict) or "metrics" not in family:
            continue
        for metric in family["metrics"]:
            labels = tuple(
                sorted((k, v) for k, v in metric["labels"].items() if k not in ("job", "model", "instance"))
            )
            out.setdefault(name, {})[labels] = float(metric["value"])
    return out


def seed(
    s3: S3, model: str, reference: list[Row] | None, *recent: list[Row], extra: dict[str, bytes] | None = None
) -> None:
    objects = {} if reference is None else {f"drift/{model}/reference.csv": _csv(reference)}
    for index, rows in enumerate(recent):
        objects[f"drift/{model}/recent/2026-12-0{index + 1}.csv"] = _csv(rows)
    s3.upload(BUCKET, {**objects, **(extra or {})})


def test_shifted_inputs_raise_psi_and_share_above_the_thresholds(
    bucket: S3, pushgateway: Pushgateway, model: str
) -> None:
    seed(bucket, model, _rows(1), _rows(2, shift=1.0)[:1000], _rows(3, shift=1.0)[:1000])
    done = run_job(bucket, pushgateway.url, model)
    assert done.returncode == 0, done.stderr
    figures = pushed(pushgateway, model)
    psi = {dict(labels)["feature"]: value for labels, value in figures["model_drift_psi"].items()}
    assert set(psi) == {"amount", "age", "score", "city"}
    assert psi["amount"] > 0.2 and psi["age"] > 0.2, psi
    assert psi["score"] < 0.1 and psi["city"] < 0.1, psi
    assert figures["model_drift_feature_share"] == {(): 0.5}
    assert figures["model_drift_rows"] == {
        (("sample", "recent"),): 2000.0,
        (("sample", "reference"),): 2000.0,
    }
    assert f"{model}: 2 of 4 feature(s) above PSI 0.2 (share 0.500, threshold 0.3: drifted)" in done.stderr


def test_unshifted_inputs_stay_below_the_thresholds(bucket: S3, pushgateway: Pushgateway, model: str) -> None:
    seed(bucket, model, _rows(1), _rows(4))
    done = run_job(bucket, pushgateway.url, model)
    assert done.returncode == 0, done.stderr
    figures = pushed(pushgateway, model)
    values = figures["model_drift_psi"].values()
    assert len(values) == 4 and all(0 <= v < 0.05 for v in values), figures["model_drift_psi"]
    assert figures["model_drift_feature_share"] == {(): 0.0}
    assert "(share 0.000, threshold 0.3: stable)" in done.stderr


def test_psi_is_the_textbook_formula_over_reference_deciles(
    bucket: S3, pushgateway: Pushgateway, model: str
) -> None:
    """Reference 0..999: each decile holds 10 %. Recent: 70 % in the first decile, 30 % in the last."""
    reference: list[Row] = [{"x": float(i)} for i in range(1000)]
    recent: list[Row] = [{"x": 5.0}] * 700 + [{"x": 995.0}] * 300
    seed(bucket, model, reference, recent)
    done = run_job(bucket, pushgateway.url, model)
    assert done.returncode == 0, done.stderr
    eps = 1e-4  # psi.EPSILON: the floor of an empty bin's share
    expected = (0.7 - 0.1) * math.log(7) + (0.3 - 0.1) * math.log(3) + 8 * (eps - 0.1) * math.log(eps / 0.1)
    (value,) = pushed(pushgateway, model)["model_drift_psi"].values()
    assert value == pytest.approx(expected, rel=1e-9)


def test_a_new_run_replaces_the_features_of_the_last(
    bucket: S3, pushgateway: Pushgateway, model: str
) -> None:
    seed(bucket, model, _rows(1), _rows(2))
    assert run_job(bucket, pushgateway.url, model).returncode == 0
    narrower = [{"amount": r["amount"]} for r in _rows(1)]
    bucket.upload(BUCKET, {f"drift/{model}/reference.csv": _csv(narrower)})
    assert run_job(bucket, pushgateway.url, model).returncode == 0
    features = {dict(labels)["feature"] for labels in pushed(pushgateway, model)["model_drift_psi"]}
    assert features == {"amount"}


Seeder = Callable[[S3, str], None]


def _no_reference(s3: S3, model: str) -> None:
    seed(s3, model, None, _rows(2))


def _no_recent(s3: S3, model: str) -> None:
    seed(s3, model, _rows(1))


def _missing_feature(s3: S3, model: str) -> None:
    seed(s3, model, _rows(1), [{k: v for k, v in r.items() if k != "age"} for r in _rows(2)])


def _text_in_numeric(s3: S3, model: str) -> None:
    seed(s3, model, _rows(1), [{**r, "amount": "unknown"} for r in _rows(2)])


def _too_few_rows(s3: S3, model: str) -> None:
    seed(s3, model, _rows(1), _rows(2)[:10])


def _empty_file(s3: S3, model: str) -> None:
    seed(s3, model, _rows(1), extra={f"drift/{model}/recent/empty.csv": b""})


BAD_DATA: dict[str, tuple[Seeder, str]] = {
    "no reference": (
        _no_reference,
        "no reference sample: s3://datasets/drift/{m}/reference.csv or "
        "s3://datasets/drift/{m}/reference.parquet does not exist",
    ),
    "no recent inputs": (
        _no_recent,
        "no recent prediction inputs: no .csv or .parquet object under s3://datasets/drift/{m}/recent/",
    ),
    "missing feature": (_missing_feature, "recent prediction inputs lack the reference's feature(s) age"),
    "text in a numeric feature": (
        _text_in_numeric,
        "feature amount is numeric in the reference but the recent inputs hold non-numeric values",
    ),
    "too few rows": (_too_few_rows, "feature amount: the recent sample has 10 value(s), fewer than 50"),
    "empty file": (_empty_file, "s3://datasets/drift/{m}/recent/empty.csv is not a readable csv file"),
}


@pytest.mark.parametrize("case", sorted(BAD_DATA))
def test_bad_or_missing_data_fails_the_job_and_pushes_nothing(
    bucket: S3, pushgateway: Pushgateway, model: str, case: str
) -> None:
    seeder, message = BAD_DATA[case]
    seeder(bucket, model)
    done = run_job(bucket, pushgateway.url, model)
    assert done.returncode == 2, done.stderr
    assert f"drift of {model} not computed: {message.format(m=model)}" in done.stderr
    assert "Traceback" not in done.stderr
    assert pushgateway.group(model) is None


def test_missing_bucket_and_settings_fail_with_what_to_set(
    bucket: S3, pushgateway: Pushgateway, model: str
) -> None:
    done = run_job(bucket, pushgateway.url, model, DRIFT_BUCKET="no-such-bucket")
    assert done.returncode == 2
    assert (
        f"drift of {model} not computed: listing s3://no-such-bucket/drift/{model}/reference: NoSuchBucket"
        in done.stderr
    )
    done = run_job(bucket, pushgateway.url, model, DRIFT_BUCKET="", PUSHGATEWAY_URL="")
    assert done.returncode == 2
    assert "missing setting(s): --bucket ($DRIFT_BUCKET), --pushgateway ($PUSHGATEWAY_URL)" in done.stderr
    done = run_job(bucket, pushgateway.url, model, AWS_SECRET_ACCESS_KEY="")
    assert done.returncode == 2
    assert "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set" in done.stderr
    done = run_job(bucket, pushgateway.url, model, PSI_THRESHOLD="1.5")
    assert done.returncode == 2
    assert "bad threshold: must be between 0 and 1 exclusive (got 1.5)" in done.stderr


def test_an_unreachable_pushgateway_or_store_fails_with_exit_1(bucket: S3, model: str) -> None:
    seed(bucket, model, _rows(1), _rows(2))
    nobody = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    done = run_job(bucket, nobody, model)
    assert done.returncode == 1, done.stderr
    assert f"drift of {model} not computed: pushing to the Pushgateway {nobody}:" in done.stderr
    done = run_job(S3(nobody), nobody, model)
    assert done.returncode == 1, done.stderr
    assert f"drift of {model} not computed: listing s3://{BUCKET}/drift/{model}/reference:" in done.stderr
    assert "the object store cannot be reached" in done.stderr
    assert "Traceback" not in done.stderr
