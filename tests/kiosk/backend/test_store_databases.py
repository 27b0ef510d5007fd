"""The store on both of its databases (#20): every kind of statement it makes, the findings of
#20 that were the store's, and its guarantees across worker processes, each with its own
store on one database."""
from __future__ import annotations

import base64
import multiprocessing
import sqlite3

import psycopg
import pytest

import store_workers
from backend_helpers import new_card_id, new_holder, sample_application
from drivers import keyscheme, pin_block
from reference_backend.store import BackendStore, LockWaitExpired, Reply

ACCOUNT = "6219993713000123452"   # of the card's bank, its Luhn digit right
PAD_KEY, TERMINAL_KEY = b"pad-pin-key-set0", b"kiosk-terminal-1"
PHOTO = b"\xff\xd8" + bytes(range(256)) * 4   # every byte value, through BLOB and BYTEA


class Kiosk:
    """Calls the store as the server does, as terminal KIOSK-0001, a new key per change."""

    def __init__(self, store: BackendStore):
        self.store = store
        self.keys = iter(range(1, 10**6))

    def change(self, operation: str, *args) -> Reply:
        action = getattr(self.store, operation)
        return self.store.change("KIOSK-0001", f"key-{next(self.keys)}", f"{operation}{args}",
                                 lambda conn, terminal, key: action(conn, terminal, key, *args))

    def read(self, operation: str, *args):
        action = getattr(self.store, operation)
        return self.store.read(lambda conn: action(conn, "KIOSK-0001", *args)).body


@pytest.fixture
def store(store_db):
    store = BackendStore(store_db)
    yield store
    store.close()


def issued(kiosk: Kiosk, holder: dict, *, bank_account: str | None = None) -> tuple[str, str]:
    """A card made on the spot for `holder`: (card id, card number)."""
    application = kiosk.change("apply_card", {"holder": holder, "region_code": "371300", "channel": "instant",
                                              "commitment": True, "application": sample_application()}).body
    number = kiosk.change("mark_instant_issuance", application["application_id"], {}).body["card_number"]
    card_id = new_card_id()
    written = kiosk.change("report_written_card", application["application_id"],
                           {"card_id": card_id, "card_number": number,
                            **({"bank_account": bank_account} if bank_account else {})})
    assert written.status == 201, written
    return card_id, number


def test_a_citizen_s_whole_story_on_either_database(store):
    kiosk = Kiosk(store)
    holder = new_holder()
    store.seed_insurance(holder["id_number"], "employee", "聊城市人民医院")
    store.seed_pad_key("KIOSK-0001", 0, PAD_KEY)
    store.seed_terminal_pin_key("KIOSK-0001", TERMINAL_KEY)
    store.issue_bank_pin(ACCOUNT, "730516")
    visit = {"id_number": holder["id_number"], "visit_token": kiosk.read("open_visit", {"id_number": holder["id_number"]})
             ["visit_token"]}
    assert kiosk.read("application_options", visit)["insured"] == {"category": "employee", "employer": "聊城市人民医院"}
    application = kiosk.change("apply_card", {
        "holder": holder, "region_code": "371300", "channel": "instant", "commitment": True,
        "application": {**sample_application(), "photo": base64.b64encode(PHOTO).decode("ascii")}}).body
    marked = kiosk.change("mark_instant_issuance", application["application_id"], {}).body
    personalisation = kiosk.read("personalisation", application["application_id"], {})
    assert base64.b64decode(personalisation["photo"]) == PHOTO and personalisation["holder"]["ethnicity"] == 1
    card_id = new_card_id()
    kiosk.change("report_written_card", application["application_id"],
                 {"card_id": card_id, "card_number": marked["card_number"], "bank_account": ACCOUNT})
    assert kiosk.change("activate_card", card_id, {}).body["status"] == "normal"
    assert kiosk.read("person_photo", visit)["photo"] == base64.b64encode(PHOTO).decode("ascii")

    digits = pin_block.account_digits(ACCOUNT)
    blocks = {name: pin_block.encrypt(PAD_KEY, pin, digits).hex().upper()
              for name, pin in (("pin_block", "582936"), ("confirm_block", "582936"), ("current_block", "111222"))}
    activation = {"bank_account": ACCOUNT, **blocks, "key_set": 0, "consent": True}
    assert kiosk.change("activate_bank_account", card_id, activation).body["error"]["code"] == "wrong_bank_pin"
    assert kiosk.read("bank_account_state", card_id, {"bank_account": ACCOUNT})["tries_left"] == 2
    new_pin = pin_block.seal_card_pin(TERMINAL_KEY, b"\x12\x34\x56")
    assert kiosk.read("command_mac", {"card_id": card_id, "challenge": "00" * 8, "header": "805E0000",
                                      "pin_block": new_pin.hex().upper(), "key_id": keyscheme.KEY_PIN_RELOAD})

    kiosk.change("record_pin_event", card_id, {"event": "changed", "at": "2026-11-26T08:00:00Z"})
    kiosk.change("report_loss", card_id, {"kind": "temporary"})
    kiosk.change("cancel_loss_report", card_id, {})
    kiosk.change("report_person_loss", {"id_number": holder["id_number"], "kind": "formal"})
    replacement = kiosk.change("apply_replacement", card_id, {"reason": "lost", "channel": "batch", "commitment": True})
    assert replacement.status == 201 and kiosk.read("card_status", card_id, {})["status"] == "cancelled"
    store.advance_production(replacement.body["application_id"], "ready", "东昌府区社保服务大厅")
    progress = kiosk.read("application_progress", visit)["applications"]
    assert {(a["channel"], a["state"]) for a in progress} == {("instant", "collected"), ("batch", "ready")}
    assert kiosk.read("query_person", visit)["cards"][0]["status"] == "cancelled"

    first_review = kiosk.change("submit_review", {"service_item": "1.10.6", "level": 5, "comment": "很方便"}).body
    assert kiosk.change("submit_review", {"service_item": "1.10.6", "level": 4}).body["review_id"] == \
        first_review["review_id"] + 1
    assert kiosk.change("call_staff", "KIOSK-0001", {"reason": "face check"}).status == 201
    entries = [{"seq": seq, "at_utc": "2026-11-26T08:00:00Z", "visit_id": "v1", "service_item": "1.10.6",
                "step": "review", "outcome": "ok", "details": "{}", "mac": f"{seq:064x}"} for seq in (1, 2, 4)]
    assert kiosk.change("record_audit_entries", "KIOSK-0001", {"entries": entries}).body["flags"][0]["kind"] == "gap"
    health = {"devices": {"camera": {"state": "ok"}}, "disk": {"free_bytes": 1, "total_bytes": 2}}
    for seq in (4, 4):   # the second heartbeat updates the terminal's health and audit head
        heartbeat = kiosk.change("record_heartbeat", "KIOSK-0001", {
            "queue_depth": 3, "software_version": "1.0", "oldest_pending_age_s": 12.5, "health": health,
            "audit_head": {"seq": seq, "mac": f"{seq:064x}"}})
        assert heartbeat.status == 201 and heartbeat.body["audit_flags"] == []
    [terminal] = store.read(lambda conn: store.fleet_status(conn, "OPS-1", {})).body["terminals"]
    assert (terminal["queue_depth"], terminal["oldest_pending_age_s"], terminal["audit_head_seq"],
            terminal["health"]) == (3, 12.5, 4, health)


def test_instant_card_numbers_pass_over_numbers_cards_already_hold(store):
    """#20: numbers from a count met a seeded card's, and written-card then failed on every retry."""
    for number in ("M00000001", "M00000002"):
        store.seed_card(holder=new_holder(), card_id=new_card_id(), card_number=number, region_code="371300",
                        issue_date="20240101", expiry_date="20340101")
    kiosk = Kiosk(store)
    numbers = [issued(kiosk, new_holder())[1] for _ in range(2)]
    assert numbers == ["M00000003", "M00000004"]


def test_integral_floats_are_integers_and_what_is_no_number_is_refused(store):
    """#20: JSON's 5.0 is the contract's integer 5; infinity, NaN and a 1e400 (inf once parsed)
    or a 400-digit integer are no `oldest_pending_age_s`, and text PostgreSQL cannot keep is refused."""
    kiosk = Kiosk(store)
    assert kiosk.change("submit_review", {"service_item": "1.10.6", "level": 5.0}).body["level_name"] == "非常满意"
    for level in (4.5, True, float("nan"), 5e300):
        assert kiosk.change("submit_review", {"service_item": "1.10.6", "level": level}).status == 400
    heartbeat = {"queue_depth": 2.0, "software_version": "1.0"}
    assert kiosk.change("record_heartbeat", "KIOSK-0001", heartbeat).status == 201
    for age in (float("inf"), float("nan"), 10**400, -1):
        reply = kiosk.change("record_heartbeat", "KIOSK-0001", {**heartbeat, "oldest_pending_age_s": age})
        assert (reply.status, reply.body["error"]["code"]) == (400, "invalid_field")
    for comment in ("a\x00b", "\ud800"):
        assert kiosk.change("submit_review", {"service_item": "1.10.6", "level": 3, "comment": comment}).status == 400
    [terminal] = store.read(lambda conn: store.fleet_status(conn, "OPS-1", {})).body["terminals"]
    assert terminal["queue_depth"] == 2


def test_a_store_made_by_an_earlier_version_opens_and_works(tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as old:
        old.executescript("""
            CREATE TABLE applications (application_id TEXT PRIMARY KEY, id_number TEXT NOT NULL,
                region_code TEXT NOT NULL, channel TEXT NOT NULL, reason TEXT NOT NULL, status TEXT NOT NULL,
                card_number TEXT, card_id TEXT, replaces_card_id TEXT, commitment INTEGER NOT NULL,
                created_at REAL NOT NULL);
            CREATE TABLE heartbeats (id INTEGER PRIMARY KEY, terminal TEXT NOT NULL, queue_depth INTEGER NOT NULL,
                oldest_pending_age_s REAL, software_version TEXT NOT NULL, at REAL NOT NULL);
            INSERT INTO applications VALUES ('AP1', '371302198001011239', '371300', 'instant', 'first', 'written',
                'M00000001', NULL, NULL, 1, 0);""")
    old.close()
    store = BackendStore(path)
    kiosk = Kiosk(store)
    assert issued(kiosk, new_holder())[1] == "M00000002"
    assert kiosk.change("record_heartbeat", "KIOSK-0001", {"queue_depth": 0, "software_version": "1",
                                                           "dead_letters": 1}).status == 201
    store.close()


def test_a_request_kept_waiting_past_lock_wait_is_told_busy_on_sqlite(tmp_path):
    """Another process's transaction holding SQLite's one writer lock: busy, and nothing done."""
    store = BackendStore(tmp_path / "store.db", lock_wait_s=0.2)
    other = sqlite3.connect(tmp_path / "store.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    with pytest.raises(LockWaitExpired):
        Kiosk(store).change("submit_review", {"service_item": "1.10.6", "level": 5})
    other.execute("ROLLBACK")
    assert Kiosk(store).change("submit_review", {"service_item": "1.10.6", "level": 5}).status == 201
    other.close()
    store.close()


def test_a_request_kept_waiting_past_lock_wait_is_told_busy_on_postgresql(postgres_db):
    """Another worker's transaction holding the card's row: busy, and nothing done."""
    store = BackendStore(postgres_db, lock_wait_s=0.2)
    card_id = new_card_id()
    store.seed_card(holder=new_holder(), card_id=card_id, card_number="M00000001", region_code="371300",
                    issue_date="20240101", expiry_date="20340101")
    with psycopg.connect(postgres_db) as other:
        other.execute("SELECT 1 FROM cards WHERE card_id = %s FOR UPDATE", (card_id,))
        with pytest.raises(LockWaitExpired):
            Kiosk(store).change("report_loss", card_id, {"kind": "temporary"})
    assert Kiosk(store).read("card_status", card_id, {})["status"] == "normal"
    store.close()


# --- several worker processes, each with its own store, on one database ----------------------

WORKERS = 4


def in_workers(target, *args) -> list:
    """`target(*args, start, results)` in WORKERS processes let go at once; what they put."""
    context = multiprocessing.get_context("spawn")   # a fork would share the parent's connections
    start, results = context.Event(), context.Queue()
    workers = [context.Process(target=target, args=(*args, n, start, results)) for n in range(WORKERS)]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    return [results.get(timeout=5) for _ in range(results.qsize())]


def test_workers_given_one_key_at_once_make_one_effect(store_db):
    """The same request reaching every worker while the first is still at work: one review, and
    every answer is its reply. The workers also create the tables side by side."""
    replies = in_workers(store_workers.submit_review, store_db)
    assert len(replies) == WORKERS and sorted(replayed for _status, _body, replayed in replies) == [
        False] + [True] * (WORKERS - 1)
    assert len({(status, str(body)) for status, body, _replayed in replies}) == 1
    store = BackendStore(store_db)
    with store._transaction() as conn:
        assert conn.execute("SELECT count(*) FROM reviews").fetchone() == (1,)
    store.close()


def test_workers_marking_at_once_get_distinct_card_numbers(store, store_db):
    store.seed_card(holder=new_holder(), card_id=new_card_id(), card_number="M00000002", region_code="371300",
                    issue_date="20240101", expiry_date="20340101")
    kiosk = Kiosk(store)
    applications = [[kiosk.change("apply_card", {"holder": new_holder(), "region_code": "371300",
                                                 "channel": "instant", "commitment": True,
                                                 "application": sample_application()}).body["application_id"]
                     for _ in range(5)] for _worker in range(WORKERS)]
    marked = in_workers(store_workers.mark_instant_issuances, store_db, applications)
    numbers = [number for _application_id, number in marked]
    assert len(marked) == 5 * WORKERS and len(set(numbers)) == len(numbers) and "M00000002" not in numbers
    with store._transaction() as conn:
        assert dict(conn.execute("SELECT application_id, card_number FROM applications").fetchall()) == dict(marked)
