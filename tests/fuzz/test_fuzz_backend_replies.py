"""Whatever the backend (or something pretending to be it) answers, the client gives a dict or
a typed BackendError: a reply can never crash the caller or the outbox's delivery thread."""
from __future__ import annotations

import json
import math

import jsonschema
import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from kiosk.backend.client import MAX_RETRY_AFTER_S, OPERATIONS, BackendClient, parse_retry_after
from kiosk.backend.contract import reply_schemas
from kiosk.backend.errors import MalformedReply
from tests.fuzz.schema_strategies import KEYWORDS, from_schema

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20)

reply_bodies = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.integers(4300, 6000).map(lambda n: b'{"a": ' + b"7" * n + b"}"),   # Python's int-parsing limit
    st.integers(1, 5000).map(lambda n: b"[" * n + b"]" * n))              # deep nesting


def finite(value) -> bool:
    """No NaN or Infinity anywhere: JSON has none."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(finite(v) for v in value.values())
    if isinstance(value, list):
        return all(finite(v) for v in value)
    return True


@given(reply_bodies)
@example(b'{"a": ' + b"1" * 5000 + b"}")
@example(b'{"a": NaN}')
@example(b'{"a": -Infinity}')
def test_a_2xx_body_is_a_json_object_or_malformed(raw):
    try:
        document = BackendClient._json_object(raw, 200)
    except MalformedReply:
        return
    assert isinstance(document, dict) and finite(document)


@given(reply_bodies)
@example(b'{"error": {"code": ' + b"1" * 5000 + b"}}")
@example(b'{"error": {"code": "x\\u0000\\u202e", "message": 7}}')
def test_a_refusal_body_gives_a_printable_code_and_message(raw):
    code, message = BackendClient._error(raw, 422)
    assert code and code.isprintable() and message.isprintable()


@given(st.one_of(st.none(), st.text(max_size=40), st.integers(0, 10**30).map(str)))
@example("\xb2")   # latin-1 SUPERSCRIPT TWO: a "digit" to str.isdigit(), not to float()
@example("Mon, 99 Jan 99999 00:00:00 GMT")
def test_retry_after_is_a_bounded_wait_or_none(value):
    wait = parse_retry_after(value)
    assert wait is None or 0.0 <= wait <= MAX_RETRY_AFTER_S


class CannedReplyClient(BackendClient):
    """The real client with the network exchange replaced by one fuzzed JSON reply, so the
    contract's checks and the HSM answers' own are what is tested."""

    def __init__(self, reply, status: int = 200):
        super().__init__("https://127.0.0.1:1", ca_file="ca.pem", cert_file="c.pem", key_file="k.pem")
        self.reply, self.status = reply, status

    def _request(self, method, path, headers, data):
        return self.status, {}, json.dumps(self.reply).encode()


hsm_replies = st.dictionaries(st.sampled_from(["cryptogram", "mac", "other"]),
                              json_values | st.binary(max_size=20).map(bytes.hex), max_size=3)


@given(hsm_replies)
def test_hsm_answers_are_exact_sized_bytes_or_malformed(reply):
    client = CannedReplyClient(reply)
    try:
        cryptogram = client.hsm_external_auth("CARD", bytes(8), 1)
        assert len(cryptogram) == 16
    except MalformedReply:
        pass
    try:
        mac = client.hsm_command_mac("CARD", bytes(8), bytes(4), b"", 2)
        assert len(mac) == 4
    except MalformedReply:
        pass


# Every operation the kiosk calls, with the path parameters its URL needs.
CALLS = {operation: ({"card_id": "371300D15600000500BF7C7A48FB4966", "application_id": "A1",
                      "terminal_number": "KIOSK-0001", "order_id": "FO0123456789ABCDEF"} if "{" in OPERATIONS[operation][1] else {})
         for operation in OPERATIONS}


def call_with(reply, operation: str, status: int):
    client = CannedReplyClient(reply, status)
    key = "0e3b1c52-6a8d-4c47-9a53-1f0c1c3c2b7e" if OPERATIONS[operation][2] else None
    return client.call(operation, dict(CALLS[operation]), idempotency_key=key)


@pytest.mark.parametrize("operation, status", sorted(reply_schemas()))
@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_reply_the_contract_allows_is_taken_as_it_is(operation, status, data):
    reply = data.draw(from_schema(reply_schemas()[(operation, status)]))
    assert call_with(reply, operation, status) == reply


@pytest.mark.parametrize("operation, status", sorted(reply_schemas()))
@settings(max_examples=25)
@given(reply=json_values)
def test_any_other_reply_is_malformed_never_half_used(operation, status, reply):
    valid = isinstance(reply, dict) and finite(reply) and not list(
        jsonschema.Draft202012Validator(reply_schemas()[(operation, status)]).iter_errors(reply))
    try:
        assert call_with(reply, operation, status) == reply and valid
    except MalformedReply:
        assert not valid


def test_schema_keywords_are_covered():
    used = set()

    def walk(node):
        if isinstance(node, dict):
            used.update(node)
            for key, value in node.items():
                for sub in (value.values() if key == "properties" else [value]):
                    walk(sub)
        elif isinstance(node, list):
            for item in node:
                walk(item)
    for schema in reply_schemas().values():
        walk(schema)
    assert used <= KEYWORDS, used - KEYWORDS


def test_a_2xx_without_the_field_a_service_needs_is_malformed():
    with pytest.raises(MalformedReply, match="apply_card reply breaks the contract"):
        call_with({"status": "applied"}, "apply_card", 201)   # no application_id
    with pytest.raises(MalformedReply, match="does not list"):
        call_with({"status": "ok", "api_version": "1"}, "health", 204)
