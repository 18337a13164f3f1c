"""The AnalyzeStack request is serialized resource by resource (``audit._stack_analysis``).

Serialized protobuf messages of one type concatenate into the message holding all their repeated
fields: the bytes of one request per resource, joined, are the bytes of the whole request.
"""

from __future__ import annotations

from google.protobuf import struct_pb2
from pulumi.runtime.proto.analyzer_pb2 import AnalyzerResource, AnalyzeStackRequest


def _resource(i: int) -> AnalyzerResource:
    properties = struct_pb2.Struct()
    properties.update({"name": f"r{i}", "replicas": i, "labels": {"app": "x", "n": [i, i + 1]}})
    return AnalyzerResource(
        type="kubernetes:apps/v1:Deployment",
        urn=f"urn:pulumi:prod::p::kubernetes:apps/v1:Deployment::r{i}",
        name=f"r{i}",
        properties=properties,
        dependencies=[f"urn:pulumi:prod::p::pulumi:pulumi:Stack::s{i}"],
    )


def test_joined_single_resource_requests_are_the_whole_request() -> None:
    resources = [_resource(i) for i in range(50)]
    joined = b"".join(AnalyzeStackRequest(resources=[r]).SerializeToString() for r in resources)
    whole = AnalyzeStackRequest(resources=resources)
    assert joined == whole.SerializeToString()
    assert AnalyzeStackRequest.FromString(joined) == whole
