"""Read a model's reference sample and recent prediction inputs from the object store (S3 API).

The S3 client is the MinIO SDK (``minio``): boto3 cannot be installed beside our package (botocore
requires python-dateutil<3, kubernetes 37 >=3), and the SDK speaks plain S3 to any endpoint. Files
are parsed by pandas (``.csv``) and pyarrow (``.parquet``), both already in the image for MLflow.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import pandas as pd
import urllib3
from minio import Minio
from minio.error import S3Error

from mlops_platform.drift.errors import DataError, ServiceError

READERS: dict[str, Callable[[io.BytesIO], pd.DataFrame]] = {
    ".csv": pd.read_csv,
    ".parquet": pd.read_parquet,
}
MISSING = ("NoSuchKey", "NoSuchBucket")
CONNECT_TIMEOUT_S = 10
READ_TIMEOUT_S = 60
RETRIES = 3  # urllib3 retries a refused connection with backoff 0.5 s, 1 s, 2 s: bounded, a few seconds


@dataclass(frozen=True, kw_only=True)
class Location:
    """Where one model's samples live: ``s3://<bucket>/<prefix>/<model>/``."""

    bucket: str
    prefix: str
    model: str

    @property
    def base(self) -> str:
        return f"{self.prefix.strip('/')}/{self.model}/" if self.prefix.strip("/") else f"{self.model}/"

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"


def client(endpoint: str, access_key: str, secret_key: str, region: str) -> Minio:
    """An S3 client for ``endpoint`` (``http://host:port``); ValueError when it is not such a URL."""
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path.strip("/"):
        raise ValueError(f"object store endpoint must be http(s)://host[:port] (got {endpoint!r})")
    http = urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT_S, read=READ_TIMEOUT_S),
        retries=urllib3.Retry(total=RETRIES, backoff_factor=0.5, status_forcelist=(500, 502, 503, 504)),
    )
    return Minio(
        parts.netloc,
        access_key=access_key,
        secret_key=secret_key,
        secure=parts.scheme == "https",
        region=region,
        http_client=http,
    )


def _fail(exc: Exception, what: str) -> Exception:
    if isinstance(exc, S3Error) and exc.code in MISSING:
        return DataError(f"{what}: {exc.code} ({exc.message})")
    if isinstance(exc, S3Error):
        return ServiceError(f"{what}: the object store answered {exc.code} ({exc.message})")
    return ServiceError(f"{what}: the object store cannot be reached ({exc})")


def _parse(store: Minio, location: Location, key: str) -> pd.DataFrame:
    suffix = key[key.rfind(".") :].lower()
    try:
        response = store.get_object(location.bucket, key)
        try:
            body = response.read()
        finally:
            response.close()
            response.release_conn()
    except (S3Error, urllib3.exceptions.HTTPError) as exc:
        raise _fail(exc, f"reading {location.url(key)}") from None
    try:
        frame = READERS[suffix](io.BytesIO(body))
    except Exception as exc:  # pandas and pyarrow raise many types for a malformed file
        raise DataError(f"{location.url(key)} is not a readable {suffix[1:]} file: {exc}") from None
    if frame.empty or not len(frame.columns):
        raise DataError(f"{location.url(key)} holds no rows")
    return frame


def _keys(store: Minio, location: Location, prefix: str) -> list[str]:
    try:
        objects = list(store.list_objects(location.bucket, prefix=prefix, recursive=True))
    except (S3Error, urllib3.exceptions.HTTPError) as exc:
        raise _fail(exc, f"listing {location.url(prefix)}") from None
    return sorted(
        o.object_name for o in objects if o.object_name and o.object_name.lower().endswith(tuple(READERS))
    )


def reference(store: Minio, location: Location) -> pd.DataFrame:
    """The reference sample: exactly one of ``reference.csv`` and ``reference.parquet``."""
    names = {f"{location.base}reference{suffix}" for suffix in READERS}
    found = [k for k in _keys(store, location, f"{location.base}reference") if k in names]
    if not found:
        wanted = " or ".join(sorted(location.url(n) for n in names))
        raise DataError(f"no reference sample: {wanted} does not exist")
    if len(found) > 1:
        raise DataError(f"two reference samples ({', '.join(location.url(k) for k in found)}): keep one")
    return _parse(store, location, found[0])


def recent(store: Minio, location: Location) -> tuple[pd.DataFrame, int]:
    """Every recent prediction input under ``recent/``, concatenated; and how many files there were."""
    prefix = f"{location.base}recent/"
    keys = _keys(store, location, prefix)
    if not keys:
        raise DataError(
            f"no recent prediction inputs: no .csv or .parquet object under {location.url(prefix)}"
        )
    frames = [_parse(store, location, key) for key in keys]
    return pd.concat(frames, ignore_index=True), len(keys)
