"""Run in the platform's runtime image as a Job: read or write the platform's object store directly.

``python objects.py list BUCKET`` prints ``E2E-RESULT`` with every object key of BUCKET (all versions'
latest). ``python objects.py drift-samples SHIFT`` writes a model's drift samples where its drift job
reads them (``$DRIFT_BUCKET/$DRIFT_PREFIX/$MODEL_NAME/reference.csv`` and ``recent/batch.csv``): the
recent sample is drawn from the reference's distribution moved by SHIFT standard deviations.
The endpoint and keys come from the environment the platform gives its drift jobs.
"""

from __future__ import annotations

import io
import json
import os
import sys
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
from minio import Minio

COLUMNS = ["amount", "age", "score", "tenure"]


def store() -> Minio:
    endpoint = urlsplit(os.environ["AWS_ENDPOINT_URL"])
    return Minio(
        endpoint.netloc,
        access_key=os.environ["AWS_ACCESS_KEY_ID"],
        secret_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        secure=endpoint.scheme == "https",
        region=os.environ.get("AWS_REGION", "us-east-1"),
    )


def put_csv(client: Minio, bucket: str, key: str, frame: pd.DataFrame) -> None:
    data = frame.to_csv(index=False).encode()
    client.put_object(bucket, key, io.BytesIO(data), len(data), content_type="text/csv")


def main(command: str, argument: str) -> None:
    client = store()
    if command == "list":
        keys = sorted(o.object_name for o in client.list_objects(argument, recursive=True))
        print("E2E-RESULT " + json.dumps({"bucket": argument, "keys": keys}))
        return
    assert command == "drift-samples", command
    shift = float(argument)
    bucket, prefix, model = os.environ["DRIFT_BUCKET"], os.environ["DRIFT_PREFIX"], os.environ["MODEL_NAME"]
    base = f"{prefix.strip('/')}/{model}"
    rng = np.random.default_rng(5)
    put_csv(
        client, bucket, f"{base}/reference.csv", pd.DataFrame(rng.normal(size=(2000, 4)), columns=COLUMNS)
    )
    recent = pd.DataFrame(rng.normal(loc=shift, size=(1000, 4)), columns=COLUMNS)
    put_csv(client, bucket, f"{base}/recent/batch.csv", recent)
    print("E2E-RESULT " + json.dumps({"bucket": bucket, "base": base, "shift": shift}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
