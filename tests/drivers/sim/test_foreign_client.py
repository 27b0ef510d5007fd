"""Clients we did not write talk to our simulated card: proof that it speaks proper PC/SC."""
import subprocess

from drivers.sim.pcscd import CARD_READER


def test_scriptor_selects_the_application_and_reads_a_record(card_slot):
    card_slot.insert_profile("card_v3.toml")
    script = ("00 A4 04 00 0F 73 78 31 2E 73 68 2E C9 E7 BB E1 B1 A3 D5 CF\n"
              "00 B2 07 2C 00\n"
              "00 B2 01 34 00\n")
    result = subprocess.run(["scriptor", "-r", CARD_READER], input=script, capture_output=True,
                            text=True, timeout=20)
    answers = [line for line in result.stdout.splitlines() if line.startswith("<")]
    assert answers[0].startswith("< 90 00"), result.stdout
    assert answers[1].startswith("< 07 09 4D 31 32 33 34 35 36 37 38 90 00"), result.stdout  # "M12345678"
    assert answers[2].startswith("< 69 82"), result.stdout  # EF06 needs external authentication


def test_opensc_tool_sees_the_card_atr(card_slot):
    link = card_slot.insert_profile("card_v2.toml")
    result = subprocess.run(["opensc-tool", "--reader", "0", "--atr"], capture_output=True, text=True, timeout=20)
    assert result.stdout.strip().replace(":", "").upper() == link.profile.atr.hex().upper(), result.stdout
