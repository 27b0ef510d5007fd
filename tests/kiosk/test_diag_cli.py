"""`kiosk diag printer|idreader` and `kiosk sim printer|idreader`, against the simulators."""
from __future__ import annotations

import argparse
import signal
import subprocess
import sys

import pytest

from drivers.id_card_reader import IdCardReader
from drivers.receipt_printer import ReceiptPrinter
from drivers.sim.id_card_reader import DEMO_FOREIGNER, DEMO_HMT_RESIDENT, DEMO_PERSON
from kiosk.cli import diag as diag_cli
from kiosk.cli import exits
from kiosk.config import KioskConfig


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="kiosk")
    diag_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    args.load_config = KioskConfig   # the defaults: no device configured but the one given
    return args.func(args)


def test_printer_state(printer_sim, capsys):
    assert run(["diag", "printer", "--port", printer_sim.path, "--baud", "115200"]) == exits.OK
    assert "online" in capsys.readouterr().out
    assert printer_sim.receipts == []


def test_printer_out_of_paper(printer_sim, capsys):
    printer_sim.set_state(paper_out=True)
    assert run(["diag", "printer", "--port", printer_sim.path, "--baud", "115200"]) == exits.NOT_READY
    out = capsys.readouterr()
    assert "paper out" in out.out and "out of paper" in out.err


def test_test_receipt_has_chinese_and_a_qr_code(printer_sim, capsys):
    code = run(["diag", "printer", "--port", printer_sim.path, "--baud", "115200", "--paper", "80",
                "--test-receipt", "--terminal", "KIOSK-0042"])
    assert code == exits.OK, capsys.readouterr().err
    printed = printer_sim.wait_for_receipts(1)[0]
    text = printed.as_text(48)
    assert "打印机测试页" in text and "社会保障卡一件事" in text and "KIOSK-0042" in text
    assert printed.complete and printer_sim.unknown_commands == []
    assert any(type(b).__name__ == "QrCode" and b.payload.startswith("TEST-KIOSK-0042-") for b in printed.blocks)


def test_silent_printer(printer_sim, capsys):
    printer_sim.set_state(unplugged=True)
    code = run(["diag", "printer", "--port", printer_sim.path, "--baud", "115200", "--timeout", "0.3"])
    assert code == exits.NOT_RESPONDING and "did not answer" in capsys.readouterr().err


@pytest.mark.parametrize("option, value", [("--encoding", "utf-8"), ("--paper", "76"), ("--timeout", "0")])
def test_bad_printer_setting_is_a_usage_error(printer_sim, capsys, option, value):
    assert run(["diag", "printer", "--port", printer_sim.path, option, value]) == exits.USAGE
    assert "receipt printer:" in capsys.readouterr().err


def test_idreader_prints_the_card_masked(idreader_sim, capsys):
    assert run(["diag", "idreader", "--port", idreader_sim.path]) == exits.OK
    out = capsys.readouterr().out
    assert "3713**********123X" in out and "李*" in out and "山东省临沂市****" in out
    assert DEMO_PERSON.id_number not in out and DEMO_PERSON.name not in out and "沂蒙路" not in out


@pytest.mark.parametrize("person, shown", [
    (DEMO_HMT_RESIDENT, ["证件: 港澳台居民居住证", "8100**********1235", "H60****56", "签发次数: 1", "陈**"]),
    (DEMO_FOREIGNER, ["证件: 外国人永久居留身份证", "USA3*******1201", "国籍: USA", "S**********", "史**"]),
])
def test_idreader_names_each_document_and_masks_its_numbers(idreader_sim, capsys, person, shown):
    idreader_sim.update(person=person)
    assert run(["diag", "idreader", "--port", idreader_sim.path]) == exits.OK
    out = capsys.readouterr().out
    assert all(part in out for part in shown), out
    for secret in (person.id_number, person.name, person.english_name, person.pass_number):
        assert not secret or secret not in out


def test_idreader_without_card(idreader_sim, capsys):
    idreader_sim.update(person=None)
    assert run(["diag", "idreader", "--port", idreader_sim.path]) == exits.NOT_READY
    assert "no ID card" in capsys.readouterr().err


def test_idreader_missing_port(tmp_path, capsys):
    assert run(["diag", "idreader", "--port", str(tmp_path / "ttyS7")]) == exits.NOT_RESPONDING


def printer_ready(path: str) -> bool:
    with ReceiptPrinter.open(path) as printer:
        return printer.status().ready


def reads_demo_person(path: str) -> bool:
    with IdCardReader(path) as reader:
        return reader.read() == DEMO_PERSON


@pytest.mark.parametrize("module, driver_check", [
    ("drivers.sim.receipt_printer", printer_ready),
    ("drivers.sim.id_card_reader", reads_demo_person),
])
def test_simulator_command_prints_its_pty_first_and_stops_on_sigterm(module, driver_check):
    with subprocess.Popen([sys.executable, "-m", module], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as proc:
        try:
            path = proc.stdout.readline().strip()
            assert path.startswith("/dev/pts/")
            assert driver_check(path)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=5) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
