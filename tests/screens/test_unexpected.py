"""Nothing unexpected leaves the screens stuck (#16): an exception in an action, in a bundle's
glue or in the receipt, and a service that hangs, each end in a result the citizen can read,
the flow no longer busy, and the visit over (ui_unexpected.py, under Xvfb)."""
from pathlib import Path

import pytest

from kiosk.device_messages import UNEXPECTED
from kiosk.receipt import RECEIPT_FAILED
from kiosk.services.outcomes import OVERDUE
from tests.ui_script import run_ui_script


@pytest.fixture(scope="module")
def seen(pcscd):
    return run_ui_script(Path(__file__).with_name("ui_unexpected.py"), timeout=240)


@pytest.mark.parametrize("case", ["in_the_action", "in_the_bundle"])
def test_an_unexpected_exception_is_a_failed_result_in_plain_words(seen, case):
    [line] = seen[case]["lines"]
    assert line.startswith("【未能办理】") and line.endswith(UNEXPECTED), line
    assert not seen[case]["busy"]


def test_a_receipt_that_cannot_be_made_leaves_the_service_done_and_says_so(seen):
    [line] = seen["in_the_receipt"]["lines"]
    assert line.startswith("【已办结】"), line
    assert seen["in_the_receipt"]["receipt_note"] == RECEIPT_FAILED


def test_a_hung_service_is_given_up_at_its_deadline(seen):
    [line] = seen["hung"]["lines"]
    assert line.startswith("【未能办理】") and line.endswith(OVERDUE), line
    assert not seen["hung"]["busy"] and seen["after_release"] == "home"
