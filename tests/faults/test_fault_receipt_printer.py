"""The receipt printer out of paper, with its cover open, not answering, its USB adapter pulled,
running out of paper mid-job and stalling mid-job, each while the kiosk is idle and while a
visit runs, through the real screens (ui_printer_faults.py, under Xvfb). Whatever the fault:
the service is done and recorded at the backend exactly once, the citizen is told the receipt
could not be printed and is shown it on screen instead (masked), and once the fault is cleared
the next citizen's receipt prints. Also the ID card reader sending garbage while idle: the
next citizen is told, and goes on once it reads again."""
from __future__ import annotations

from pathlib import Path

import pytest

from drivers.receipt_printer import PrinterCoverOpen, PrinterError, PrinterPaperOut
from kiosk.device_messages import DEVICE_MESSAGES
from tests.ui_script import NO_PCSCD, run_ui_script

SHOWN_INSTEAD = "办理凭证如下"   # then how to keep it (screens/flow.py words it)
PRINTED = "凭条已打印，请从下方出纸口取走。"
# What the citizen is told, by fault: the printer's own words, then that the receipt is shown.
TOLD = {"paper_out": DEVICE_MESSAGES[PrinterPaperOut], "cover_open": DEVICE_MESSAGES[PrinterCoverOpen],
        "not_answering": DEVICE_MESSAGES[PrinterError], "usb_unplugged": DEVICE_MESSAGES[PrinterError],
        "paper_out_mid_job": DEVICE_MESSAGES[PrinterPaperOut], "stalled_mid_job": DEVICE_MESSAGES[PrinterError]}


@pytest.fixture(scope="module")
def seen():
    """(Its simulated kiosk has no smart cards: it runs beside the tests that use the vpcd slots,
    and with NO_PCSCD it never connects to the pcscd they stop and start.)"""
    seen = run_ui_script(Path(__file__).with_name("ui_printer_faults.py"), timeout=400, env=NO_PCSCD)
    seen["by_label"] = {visit["label"]: visit for visit in seen["visits"]}
    return seen


def faulty_visits(seen):
    return [v for v in seen["visits"] if "/" in v["label"] and not v["label"].startswith(("after", "id_reader"))]


def test_every_fault_and_moment_was_played(seen):
    played = {v["label"] for v in faulty_visits(seen)}
    assert played == {f"{fault}/{when}" for fault in TOLD for when in ("visit",)} | {
        f"{fault}/idle" for fault in ("paper_out", "cover_open", "not_answering", "usb_unplugged")}


def test_every_service_is_done_and_at_the_backend_exactly_once(seen):
    for visit in seen["visits"]:
        assert visit["lines"] and all(line.startswith("【已办结】") for line in visit["lines"]), visit["label"]
    assert seen["loss_reports"] and set(seen["loss_reports"].values()) == {1}, seen["loss_reports"]


def test_a_printer_fault_is_told_and_the_receipt_shown_on_screen_masked(seen):
    for visit in faulty_visits(seen):
        fault = visit["label"].split("/")[0]
        note = visit["note"]
        assert note.startswith(TOLD[fault]) and SHOWN_INSTEAD in note[len(TOLD[fault]):], (visit["label"], note)
        shown = visit["shown"]
        assert "临时挂失" in shown and visit["masked_id"] in shown, (visit["label"], shown)
        assert visit["id_number"] not in shown
        # The loss report took effect at once: the receipt says so, not "queued" with a job number.
        assert "结果：办理成功" in shown and "待提交编号" not in shown, (visit["label"], shown)


def test_a_receipt_that_did_not_print_never_reads_as_the_service_not_done(seen):
    for visit in faulty_visits(seen):
        assert "未能办理" not in visit["note"] and SHOWN_INSTEAD in visit["note"], visit["label"]
        assert all(line.startswith("【已办结】") for line in visit["lines"]), visit["label"]


def test_a_failed_receipt_never_comes_out_whole_while_the_printer_is_broken(seen):
    visits = seen["visits"]
    for before, visit in zip(visits, visits[1:]):
        if visit in faulty_visits(seen):
            assert visit["printed"]["complete"] == before["printed"]["complete"], visit["label"]


def test_the_next_visit_prints_again_once_the_fault_is_cleared(seen):
    visits = seen["visits"]
    assert visits[0]["label"] == "baseline" and visits[0]["printed"]["complete"] == 1
    normal = [(before, visit) for before, visit in zip([None] + visits, visits)
              if visit["label"] == "baseline" or visit["label"].startswith("after")]
    assert len(normal) == 12
    for before, visit in normal:
        assert visit["note"] == PRINTED and visit["shown"] == "", visit["label"]
        printed = visit["printed"]
        # Its own receipt came out whole, and it is the last thing the printer printed.
        if before is not None:
            assert printed["complete"] > before["printed"]["complete"], visit["label"]
        assert visit["masked_id"] in printed["last"] and "临时挂失" in printed["last"], visit["label"]
        assert "结果：办理成功" in printed["last"] and "待提交编号" not in printed["last"], printed["last"]


def test_paper_running_out_mid_job_leaves_a_torn_receipt_not_a_whole_one(seen):
    visit = seen["by_label"]["paper_out_mid_job/visit"]
    assert visit["printed"]["partial"] >= 1


def test_a_printer_that_stalled_mid_job_prints_that_job_at_most_once_more(seen):
    """A printer that resumes finishes the job it held (no printer here can be told to drop it):
    one late copy at most, and the next citizen's own receipt comes out after it."""
    stalled = seen["by_label"]["stalled_mid_job/visit"]
    after = seen["by_label"]["after stalled_mid_job/visit"]
    assert after["printed"]["complete"] - stalled["printed"]["complete"] in (1, 2)
    assert after["masked_id"] in after["printed"]["last"]


def test_an_id_reader_sending_garbage_while_idle_is_told_then_read(seen):
    problem = seen["id_reader_problem"]["id_reader_garbage/idle"]
    assert problem.startswith("身份证读取失败"), problem
    visit = seen["by_label"]["id_reader_garbage/idle"]
    assert visit["note"] == PRINTED
