"""Run in moto's venv: create a bucket and upload objects with boto3, the reference S3 client.

``python s3_seed.py <endpoint>`` reads ``{"bucket": ..., "create": bool, "objects": {key: base64}}`` from
stdin; keys are uploaded in order, overwriting.
"""

from __future__ import annotations

import base64
import json
import sys

import boto3

request = json.load(sys.stdin)
s3 = boto3.client(
    "s3",
    endpoint_url=sys.argv[1],
    aws_access_key_id="test-access",
    aws_secret_access_key="test-secret",
    region_name="us-east-1",
)
if request["create"]:
    s3.create_bucket(Bucket=request["bucket"])
for key, body in request["objects"].items():
    s3.put_object(Bucket=request["bucket"], Key=key, Body=base64.b64decode(body))
