"""The Analyze relay process against a real pack: same answers as a direct call, errors kept."""

from __future__ import annotations

import grpc
import pytest
from pulumi.runtime.proto import analyzer_pb2

from mlops_platform.tools.engine.analyzer import PackSession, RelayedRpcError, captured_request, make_resource
from mlops_platform.tools.engine.relay import OK, OUT_HEADER, Relay, parse_answers

DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def _request(name: str, replicas: int) -> analyzer_pb2.AnalyzeRequest:
    resource = make_resource(DEPLOYMENT, name, {"spec": {"replicas": replicas}}, stack="fixture")
    return captured_request(resource)


def test_relay_answers_each_request_as_a_direct_call_would(pack: PackSession) -> None:
    requests = [_request("api", 1), _request("explode-1", 3), _request("web", 3)]
    relay = Relay()
    try:
        numbers = [relay.request(requests[0].SerializeToString())]  # before the pack is ready: held
        relay.addresses([pack.addresses])
        numbers += [relay.request(r.SerializeToString()) for r in requests[1:]]
        answers = relay.answers()
    finally:
        relay.close()
    assert numbers == [0, 1, 2]
    assert sorted((number, pack_index) for number, pack_index, _, _ in answers) == [(0, 0), (1, 0), (2, 0)]
    by_number = {number: (status, body) for number, _, status, body in answers}
    for number in (0, 2):
        status, body = by_number[number]
        direct = pack._stub.Analyze(requests[number])
        assert status == OK
        assert analyzer_pb2.AnalyzeResponse.FromString(body) == direct
    status, body = by_number[1]  # test-raises raises on names starting with "explode"
    error = RelayedRpcError(status, body.decode())
    assert error.code() is grpc.StatusCode.UNKNOWN
    assert "cannot inspect explode-1" in error.details()


def test_relay_sends_every_request_to_every_pack(pack: PackSession) -> None:
    relay = Relay()
    try:
        relay.addresses([pack.addresses, pack.addresses])
        relay.request(_request("api", 2).SerializeToString())
        answers = relay.answers()
    finally:
        relay.close()
    assert sorted((n, p, s) for n, p, s, _ in answers) == [(0, 0, OK), (0, 1, OK)]


def test_relay_reports_an_unreachable_pack_as_unavailable() -> None:
    relay = Relay()
    try:
        relay.addresses([["127.0.0.1:1"]])  # nothing listens there
        relay.request(_request("api", 2).SerializeToString())
        [(number, pack_index, status, body)] = relay.answers(timeout_s=120)
    finally:
        relay.close()
    assert (number, pack_index) == (0, 0)
    assert RelayedRpcError(status, body.decode()).code() is grpc.StatusCode.UNAVAILABLE


def test_parse_answers_refuses_a_truncated_stream() -> None:
    data = OUT_HEADER.pack(0, 0, OK, 5) + b"hello" + OUT_HEADER.pack(1, 0, OK, 5) + b"hel"
    with pytest.raises(ValueError, match="truncated"):
        parse_answers(data)
    assert parse_answers(data[: OUT_HEADER.size + 5]) == [(0, 0, OK, b"hello")]


def test_a_dead_relay_fails_the_answers_not_the_program() -> None:
    relay = Relay()
    try:
        relay._proc.kill()
        relay._proc.wait()
        for _ in range(50):  # writing to the dead relay never raises into the registering program
            relay.request(_request("api", 2).SerializeToString())
        with pytest.raises(RuntimeError, match="analyze relay exited"):
            relay.answers(timeout_s=30)
    finally:
        relay.close()
