"""Whatever the backend (or something pretending to be it) answers, the client gives a dict or
a typed BackendError: a reply can never crash the caller or the outbox's delivery thread."""
from __future__ import annotations

import json

from hypothesis import example, given, strategies as st

from kiosk.backend.client import MAX_RETRY_AFTER_S, BackendClient, parse_retry_after
from kiosk.backend.errors import MalformedReply

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


@given(reply_bodies)
@example(b'{"a": ' + b"1" * 5000 + b"}")
def test_a_2xx_body_is_a_json_object_or_malformed(raw):
    try:
        document = BackendClient._json_object(raw, 200)
    except MalformedReply:
        return
    assert isinstance(document, dict)


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
    """The real client with the network exchange replaced by one fuzzed JSON object, so the
    HSM answers' own checks are what is tested."""

    def __init__(self, reply: dict):
        super().__init__("https://127.0.0.1:1", ca_file="ca.pem", cert_file="c.pem", key_file="k.pem")
        self.reply = reply

    def _exchange(self, method, path, headers, data):
        return self.reply


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
