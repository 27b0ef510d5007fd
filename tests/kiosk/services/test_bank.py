"""1.10.2, the card's bank account (#15), end to end on the simulated kiosk: the account read
from the card, the consent, the transaction PIN typed twice on the simulated encrypting PIN pad
(a pty, its keys in a file), the bank gateway of the reference backend opening the SM4 blocks.
A cancelled, unplugged or garbled pad, two different PINs, a pad with another key, no consent
and no face check are each refused in plain words; no account number, PIN or PIN block is left in
the kiosk's database, its log at any level, or the receipt (down to the bytes the printer got)."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest

from drivers.pcsc import wait_for_card
from drivers.pin_pad import PinPad
from drivers.sim.pcscd import CARD_READER
from drivers import pin_block
from simulation.stack import PAD_PIN_KEY, ZHANG_SAN, simulated_kiosk
from kiosk.visit import CitizenIdentity
from offline_queue import Outbox

ACCOUNT = "6219993713000123452"   # card_v3.toml's
NEW_BANK_PIN = "582936"


@pytest.fixture
def sim(pcscd):
    with simulated_kiosk() as sim:
        sim.card.insert()
        wait_for_card(CARD_READER, timeout=5)
        yield sim


@pytest.fixture
def kiosk(sim):
    core = sim.kiosk_core().start()
    yield core
    core.close()


@pytest.fixture
def printed(sim, monkeypatch):
    """Every byte the simulated receipt printer receives, as it came down the line."""
    received = bytearray()
    decode = sim.receipt_printer.received

    def keep(data: bytes) -> None:
        received.extend(data)
        decode(data)
    monkeypatch.setattr(sim.receipt_printer, "received", keep)
    return received


@pytest.fixture(autouse=True)
def every_log_level(caplog):
    """A leak logged at debug or info level is a leak: every logger's records are captured."""
    caplog.set_level(logging.DEBUG)


def visit_of(kiosk, vouched: bool = True):
    visit = kiosk.services.new_visit()
    visit.identify(CitizenIdentity.from_id_document(ZHANG_SAN))
    if vouched:
        visit.assure("face", {"score": 0.3})   # as after a face check that matched
    visit.present_card(kiosk.cards.read())
    return visit


def test_the_bank_account_is_activated_with_the_pin_typed_twice_on_the_pad(sim, kiosk, caplog, printed):
    sim.pin_pad.press(f"{NEW_BANK_PIN}\r{NEW_BANK_PIN}\r")
    prompts, keys = [], []
    visit = visit_of(kiosk)
    [result] = kiosk.services.activate_bank(visit, True, prompts.append, keys.append)
    assert result.outcome == "done", result
    assert result.data == {"account": "621999*********3452"}
    assert prompts == ["bank_pin", "bank_pin_again"] and keys == ["digit"] * 12
    [(card_id, pin_hash)] = sim.backend.store._conn.execute(
        "SELECT card_id, pin_hash FROM bank_accounts WHERE bank_account = ?", (ACCOUNT,)).fetchall()
    assert card_id == visit.card.info.identifier.hex and NEW_BANK_PIN not in pin_hash
    # The audit trail keeps the account masked; the kiosk's database holds neither it nor a block.
    trail = [e.details for e in kiosk.audit.entries(Outbox.connect(sim.config.outbox.db), visit.visit_id)
             if e.step == "activate_bank"]
    assert trail and all(d["account"] == "621999*********3452" and d["consent"] for d in trail)
    receipt = assert_no_account_or_pin_left(sim, kiosk, visit, caplog, printed, [NEW_BANK_PIN])
    assert "银行账户激活" in receipt
    # Once active, it is not activated again.
    sim.pin_pad.press(f"{NEW_BANK_PIN}\r{NEW_BANK_PIN}\r")
    [refused] = kiosk.services.activate_bank(visit_of(kiosk), True)
    assert refused.outcome == "refused" and "已经激活" in refused.citizen_message


def assert_no_account_or_pin_left(sim, kiosk, visit, caplog, printed: bytearray, pins: list[str]) -> str:
    """Neither the full account, nor its hidden middle digits, nor a PIN, nor the PIN blocks the
    pad sent for `pins` are in the kiosk's database, its log (every level), the visit's receipt
    as rendered or the bytes the receipt printer received. Returns the receipt as printed."""
    blocks = [pin_block.encrypt(PAD_PIN_KEY, pin, pin_block.account_digits(ACCOUNT)) for pin in pins]
    texts = [ACCOUNT, ACCOUNT[6:-4], *pins, *(b.hex().upper() for b in blocks), *(b.hex() for b in blocks)]
    handout = kiosk.hand_out_receipt(visit)
    assert handout is not None and handout.printed, handout
    [paper] = sim.receipt_printer.wait_for_receipts(1)
    receipt = paper.as_text(sim.receipt_printer.columns)
    database = Path(sim.config.outbox.db)
    stored = b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))
    assert caplog.text and "银行账户激活".encode("gb18030") in printed   # the scans below look at this visit
    for where in (stored, bytes(printed), caplog.text.encode(), receipt.encode()):
        for secret in [*blocks, *(t.encode() for t in texts)]:
            assert secret not in where
    # The bank keeps the account, and of a PIN a salted hash only: no block, no digits.
    bank = b"".join(p.read_bytes() for p in Path(sim.backend.store.path).parent.glob("backend.db*"))
    for secret in [*blocks, *(b.hex().upper().encode() for b in blocks), *(pin.encode() for pin in pins)]:
        assert secret not in bank
    return receipt


@pytest.mark.parametrize("keys, told", [
    (f"{NEW_BANK_PIN}\r{NEW_BANK_PIN[::-1]}\r", "两次输入的银行交易密码不一致"),
    ("111111\r111111\r", "过于简单"),
    ("58\x1b", "您已取消密码输入"),
])
def test_what_the_bank_or_the_citizen_refuses_is_told_and_nothing_is_activated(sim, kiosk, keys, told):
    sim.pin_pad.press(keys)
    [result] = kiosk.services.activate_bank(visit_of(kiosk), True)
    assert result.outcome in ("refused", "failed") and told in result.citizen_message, result
    assert sim.backend.store._conn.execute("SELECT count(*) FROM bank_accounts").fetchone() == (0,)


@pytest.mark.parametrize("fault", ["unplugged", "garbage"])
def test_a_pad_unplugged_or_answering_garbage_mid_entry_fails_in_plain_words(sim, kiosk, fault):
    sim.pin_pad.press(NEW_BANK_PIN[:3])
    visit = visit_of(kiosk)
    import threading
    threading.Timer(0.3, lambda: setattr(sim.pin_pad, fault, True)).start()   # mid-entry
    sim.pin_pad.press(NEW_BANK_PIN[3:] + "\r" + NEW_BANK_PIN + "\r")
    [result] = kiosk.services.activate_bank(visit, True)
    assert result.outcome == "failed" and "密码键盘暂不可用" in result.citizen_message, result
    assert sim.backend.store._conn.execute("SELECT count(*) FROM bank_accounts").fetchone() == (0,)


def test_a_pad_holding_another_key_than_the_banks_is_refused_by_the_bank(sim, kiosk):
    with PinPad(sim.pin_pad.path) as pad:
        pad.load_pin_key(0, b"another-pad-key!")
    sim.pin_pad.press(f"{NEW_BANK_PIN}\r{NEW_BANK_PIN}\r")
    [result] = kiosk.services.activate_bank(visit_of(kiosk), True)
    assert result.outcome == "refused" and "密钥不一致" in result.citizen_message


def test_no_consent_or_no_face_check_is_refused_before_the_pad_asks(sim, kiosk):
    [no_consent] = kiosk.services.activate_bank(visit_of(kiosk), False)
    assert no_consent.outcome == "refused" and "同意" in no_consent.citizen_message
    [no_face] = kiosk.services.activate_bank(visit_of(kiosk, vouched=False), True)
    assert no_face.outcome == "refused" and "人脸核验" in no_face.citizen_message


ISSUED_BANK_PIN = "730516"   # from the bank's PIN mailer (密码函)


def test_a_pin_the_bank_issued_with_the_card_is_asked_first_and_checked_by_the_bank(sim, kiosk, caplog, printed):
    sim.backend.store.issue_bank_pin(ACCOUNT, ISSUED_BANK_PIN)
    sim.pin_pad.press(f"{ISSUED_BANK_PIN}\r{NEW_BANK_PIN}\r{NEW_BANK_PIN}\r")
    prompts = []
    visit = visit_of(kiosk)
    [result] = kiosk.services.activate_bank(visit, True, prompts.append)
    assert result.outcome == "done", result
    assert_no_account_or_pin_left(sim, kiosk, visit, caplog, printed, [ISSUED_BANK_PIN, NEW_BANK_PIN])
    assert prompts == ["bank_pin_issued", "bank_pin", "bank_pin_again"]
    store = sim.backend.store._conn
    assert store.execute("SELECT count(*) FROM bank_issued_pins").fetchone() == (0,)   # replaced by theirs
    assert store.execute("SELECT count(*) FROM bank_accounts").fetchone() == (1,)


def test_a_wrong_issued_pin_is_refused_by_the_bank_counted_and_locks_at_the_last_try(sim, kiosk):
    sim.backend.store.issue_bank_pin(ACCOUNT, ISSUED_BANK_PIN)
    store = sim.backend.store._conn
    for tries_left, told in ((2, "初始交易密码不正确"), (1, "初始交易密码不正确"), (0, "已锁定")):
        sim.pin_pad.press(f"111222\r{NEW_BANK_PIN}\r{NEW_BANK_PIN}\r")
        [refused] = kiosk.services.activate_bank(visit_of(kiosk), True)
        assert refused.outcome == "refused" and told in refused.citizen_message, refused
        assert store.execute("SELECT tries_left FROM bank_issued_pins").fetchone() == (tries_left,)
    # Locked: refused before the pad asks for anything, the right PIN no longer enough.
    prompts = []
    [locked] = kiosk.services.activate_bank(visit_of(kiosk), True, prompts.append)
    assert locked.outcome == "refused" and "银行网点" in locked.citizen_message and prompts == []
    assert store.execute("SELECT count(*) FROM bank_accounts").fetchone() == (0,)
