"""`kiosk card read` and friends, run as a citizen's script would run them: a real process."""
import json
import subprocess
import sys

from drivers.pcsc import wait_for_card
from drivers.sim.pcscd import CARD_READER


def kiosk(*args, timeout=30):
    return subprocess.run([sys.executable, "-m", "kiosk.cli", *args], capture_output=True,
                          text=True, timeout=timeout)


def test_read_as_json_and_ireadcardbas(card_slot, psam_slot):
    card_slot.insert_profile("card_v3.toml")
    result = kiosk("card", "read")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["holder"]["name"] == "张三"
    assert data["card"]["spec_version"] == "3.00"
    assert data["bank_account_masked"] == "621999*********3452"   # card_v3.toml's account, masked
    assert "6219993713000123452" not in result.stdout
    result = kiosk("card", "read", "--format", "ireadcardbas")
    assert result.stdout.startswith("371300|371302198001011239|M12345678|")
    assert result.stdout.strip().endswith("|KIOSK-0001|371300-0001|")


def test_one_line_errors_and_exit_codes(card_slot, tmp_path):
    no_card = kiosk("card", "read")
    assert no_card.returncode == 4 and no_card.stderr.startswith("kiosk: no card")
    no_reader = kiosk("card", "read", "--reader", "Nonexistent")
    assert no_reader.returncode == 3 and "Nonexistent" in no_reader.stderr

    card_slot.insert_profile("card_v3.toml")  # a 3.0 card, and the PSAM slot is empty
    assert kiosk("card", "read").returncode == 7

    card_slot.insert_profile("card_v3.toml", pull_out_after_apdus=4)
    pulled = kiosk("card", "read")
    assert pulled.returncode == 5 and "pulled out" in pulled.stderr

    config = tmp_path / "bad.toml"
    config.write_text("[ui]\nwidth = 'wide'\n")
    config.chmod(0o600)
    refused = kiosk("--config", str(config), "card", "read")
    assert refused.returncode == 2 and "[ui] width: expected an integer" in refused.stderr
    for result in (no_card, no_reader, pulled):
        assert len(result.stderr.strip().splitlines()) == 1


def test_not_a_social_security_card(card_slot):
    from drivers.sim.psam import SimulatedPsam
    card_slot.insert(SimulatedPsam())
    result = kiosk("card", "read")
    assert result.returncode == 6 and "not a readable social security card" in result.stderr


def test_sim_card_command_inserts_a_card_until_stopped(pcscd):
    sim = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "sim", "card", "--profile", "card_v1.toml"],
                           stdout=subprocess.PIPE, text=True)
    try:
        assert "simulated 1.0 card" in sim.stdout.readline()
        wait_for_card(CARD_READER, timeout=5)
        result = kiosk("card", "read", "--format", "ireadcardbas")
        assert result.stdout.startswith("639900|630104198101011118|X00000019|"), result.stderr
    finally:
        sim.terminate()
        sim.wait(5)
    wait_for_card(CARD_READER, timeout=5, present=False)


def test_bad_profile_is_refused(tmp_path):
    profile = tmp_path / "p.toml"
    profile.write_text("[card]\ngeneration = 7\n")
    result = kiosk("sim", "card", "--profile", str(profile))
    assert result.returncode == 2 and "bad card profile" in result.stderr


def kiosk_with_input(*args, stdin=""):
    return subprocess.run([sys.executable, "-m", "kiosk.cli", *args], input=stdin, capture_output=True,
                          text=True, timeout=30)


def test_pin_commands_from_stdin(card_slot, psam_slot):
    card = card_slot.insert_profile("card_v3.toml")
    assert kiosk_with_input("card", "verify-pin", "--pin-stdin", stdin="147258\n").returncode == 0
    wrong = kiosk_with_input("card", "verify-pin", "--pin-stdin", stdin="000000\n")
    assert wrong.returncode == 8 and "5 tries left" in wrong.stderr and "000000" not in wrong.stderr
    weak = kiosk_with_input("card", "change-pin", "--pin-stdin", stdin="147258\n123456\n")
    assert weak.returncode == 10 and "sequence" in weak.stderr
    changed = kiosk_with_input("card", "change-pin", "--pin-stdin", stdin="147258\n582936\n")
    assert changed.returncode == 0, changed.stderr
    assert card.profile.pin == "582936"
    card.pin_tries_left = 0
    blocked = kiosk_with_input("card", "verify-pin", "--pin-stdin", stdin="582936\n")
    assert blocked.returncode == 9
    reset = kiosk_with_input("card", "reset-pin", "--pin-stdin", stdin="396184\n")
    assert reset.returncode == 0, reset.stderr
    assert kiosk_with_input("card", "verify-pin", "--pin-stdin", stdin="396184\n").returncode == 0
    assert kiosk_with_input("card", "verify-pin", "--pin-stdin", stdin="12\n").returncode == 10
