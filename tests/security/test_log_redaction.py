"""Logs as JSON lines with personal data masked, whatever a log call was handed."""
from __future__ import annotations

import io
import json
import logging

import pytest
from hypothesis import given, strategies as st

from drivers.id_card_reader import id_check_digit
from kiosk.logging_setup import configure_logging, redact

ID_NUMBER = "37130219900307123X"
BANK_CARD = "6217000010001234567"


@pytest.fixture
def captured():
    stream = io.StringIO()
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    configure_logging(json_lines=True, level=logging.DEBUG, stream=stream)
    yield stream
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in before[0]:
        root.addHandler(handler)
    root.setLevel(before[1])


def lines(stream) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_each_record_is_one_json_object_with_time_level_and_logger(captured):
    logging.getLogger("kiosk.test").warning("printer %s: %d jobs", "paper out", 3)
    [entry] = lines(captured)
    assert entry["level"] == "WARNING" and entry["logger"] == "kiosk.test"
    assert entry["msg"] == "printer paper out: 3 jobs" and entry["ts"].endswith("+00:00")


def test_id_numbers_and_long_digit_runs_are_masked_in_messages_and_arguments(captured):
    log = logging.getLogger("kiosk.test")
    log.info("holder %s paid with %s", ID_NUMBER, BANK_CARD)
    log.info(f"inline {ID_NUMBER.lower()}")
    text = captured.getvalue()
    assert ID_NUMBER not in text and ID_NUMBER.lower() not in text and BANK_CARD not in text
    assert "3713**********123X" in text and "***************4567" in text


def test_tracebacks_are_masked_too(captured):
    try:
        raise ValueError(f"no card for {ID_NUMBER}")
    except ValueError:
        logging.getLogger("kiosk.test").exception("lookup failed")
    [entry] = lines(captured)
    assert "ValueError" in entry["exc"] and ID_NUMBER not in json.dumps(entry, ensure_ascii=False)


def test_plain_text_for_a_desk(tmp_path):
    stream = io.StringIO()
    root = logging.getLogger()
    before = list(root.handlers)
    try:
        configure_logging(json_lines=False, level="INFO", stream=stream)
        logging.getLogger("kiosk.test").info("card of %s read", ID_NUMBER)
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in before:
            root.addHandler(handler)
    assert "INFO kiosk.test: card of 3713**********123X read" in stream.getvalue()


def test_what_the_kiosk_logs_itself_is_kept():
    for text in ("outbox job 42 delivered", "card 639900D15600000500BF7C7A48FB4966 read on Virtual PCD 00 00",
                 "region 371300, office phone 12333", "2026-11-26T06:30:00+00:00 retry in 2.5 s"):
        assert redact(text) == text


@given(st.from_regex(r"[1-9][0-9]{16}", fullmatch=True), st.text(max_size=10), st.text(max_size=10))
def test_no_valid_id_number_survives_whatever_surrounds_it(first17, before, after):
    number = first17 + id_check_digit(first17)
    assert number not in redact(before + number + after)
