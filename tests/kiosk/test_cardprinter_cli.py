"""`kiosk diag cardprinter` and `kiosk sim cardprinter` as processes, against the simulator."""
import signal
import subprocess
import sys

from PIL import Image

from drivers.sim.card_printer import CardPrinterSimulator
from drivers.sim.pcscd import VPCD_CARD_PORT

HOST = [sys.executable, "-m", "kiosk.cli"]


def kiosk(*args):
    return subprocess.run([*HOST, *args], capture_output=True, text=True, timeout=30)


def test_the_simulator_command_and_a_test_card_that_ends_in_the_reject_box(pcscd, tmp_path):
    sim = subprocess.Popen([*HOST, "sim", "cardprinter", "--port", "0", "--stock", "2", "--out", str(tmp_path),
                            "--delay", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = sim.stdout.readline().strip()
        assert port.isdigit() and int(port) > 0

        state = kiosk("diag", "cardprinter", "--port", port)
        assert state.returncode == 0, state.stderr
        assert "cards loaded" in state.stdout and "250 of 250 prints left" in state.stdout

        test_card = kiosk("diag", "cardprinter", "--port", port, "--test-card")
        assert test_card.returncode == 0, test_card.stderr
        assert "test card retained" in test_card.stdout
        [face] = tmp_path.glob("face-*.png")
        with Image.open(face) as printed:
            assert printed.size == (1011, 638)
    finally:
        sim.send_signal(signal.SIGTERM)
        _, summary = sim.communicate(timeout=10)
    assert sim.returncode == 0 and "1 cards fed, 1 retained" in summary


def test_each_fault_is_one_line_and_a_nonzero_exit(pcscd):
    with CardPrinterSimulator(stock=0, encoder_port=VPCD_CARD_PORT) as sim:
        sim.cover_open = True
        result = kiosk("diag", "cardprinter", "--port", str(sim.port), "--test-card")
        assert sim.cards == []  # nothing fed while the printer reports faults
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "kiosk: card printer fault: card printer: feeder empty",
        "kiosk: card printer fault: card printer: cover open"]


def test_a_printer_that_is_not_there(pcscd):
    with CardPrinterSimulator() as sim:
        port = sim.port
    result = kiosk("diag", "cardprinter", "--port", str(port))
    assert result.returncode == 1 and len(result.stderr.splitlines()) == 1
    assert "cannot connect" in result.stderr
