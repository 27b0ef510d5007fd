"""The audit trail on a real SQLite file shared with the outbox: every kind of tampering is
found and named, personal data is refused, and concurrent appends keep one chain."""
from __future__ import annotations

import datetime
import sqlite3
import threading

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from kiosk.audit import (BEYOND_HEAD, EDITED, GENESIS_MAC, HEAD, MISSING, REORDERED, AuditError, AuditTrail,
                         PersonalDataInDetails, WrongAuditKey, audit_key_from, pseudonym)
from offline_queue import KeyRing, Outbox
from records_helpers import append_visit, raw_rows

ENTRY_COLUMNS = ("seq", "at_utc", "visit_id", "service_item", "step", "outcome", "details", "prev_mac", "mac")
HEAD_COLUMNS = ("algorithm", "key_check", "last_seq", "last_mac", "mac")


def kinds(verification) -> list[tuple]:
    return [(f.kind, f.seq) for f in verification.findings]


def test_intact_trail_verifies_and_lists_entries_by_visit(filled, trail):
    result = trail.verify(filled)
    assert result.ok and result.entries == 10 and result.findings == []
    visit_b = trail.entries(filled, "visit-b")
    assert [e.seq for e in visit_b] == [7, 8, 9, 10]
    assert [e.step for e in visit_b] == ["step-0", "step-1", "step-2", "step-3"]
    assert visit_b[0].details == {"card": "3713**********1234", "holder": "张*", "n": 0}
    assert visit_b[0].at_utc.tzinfo == datetime.timezone.utc
    everything = trail.entries(filled)
    assert everything[0].prev_mac == GENESIS_MAC
    assert all(later.prev_mac == earlier.mac for earlier, later in zip(everything, everything[1:]))


def test_entries_are_written_beside_their_outbox_jobs(filled):
    assert filled.execute("SELECT count(*) FROM outbox_jobs").fetchone()[0] == 10


def swap(connection, a, b):
    connection.execute("UPDATE audit_entries SET seq = -1 WHERE seq = ?", (a,))
    connection.execute("UPDATE audit_entries SET seq = ? WHERE seq = ?", (a, b))
    connection.execute("UPDATE audit_entries SET seq = ? WHERE seq = -1", (b,))


def shift(connection, from_seq, by):
    # Through a far-away range, so that no two rows ever hold the same number mid-update.
    connection.execute("UPDATE audit_entries SET seq = seq + 1000000 WHERE seq >= ?", (from_seq,))
    connection.execute("UPDATE audit_entries SET seq = seq - 1000000 + ? WHERE seq >= 1000000", (by,))


def forge_after(connection, seq, new_seq):
    """A copy of entry `seq` with other details, stored as `new_seq`: what a forger without the key can do."""
    connection.execute(
        "INSERT INTO audit_entries SELECT ?, at_utc, visit_id, service_item, step, 'ok', '{\"n\":99}', mac,"
        " substr(mac, 2) || '0' FROM audit_entries WHERE seq = ?", (new_seq, seq))


TAMPERINGS = {
    "edited field": (lambda c: c.execute("UPDATE audit_entries SET outcome = 'refused' WHERE seq = 4"),
                     [(EDITED, 4)]),
    "edited details": (lambda c: c.execute("UPDATE audit_entries SET details = replace(details, '张*', '王*')"
                                           " WHERE seq = 2"), [(EDITED, 2)]),
    "edited time": (lambda c: c.execute("UPDATE audit_entries SET at_utc = '2026-01-01T00:00:00.000000Z'"
                                        " WHERE seq = 9"), [(EDITED, 9)]),
    "edited MAC": (lambda c: c.execute("UPDATE audit_entries SET mac = (SELECT mac FROM audit_entries WHERE seq = 3)"
                                       " WHERE seq = 4"), [(EDITED, 4)]),
    "removed middle entry": (lambda c: c.execute("DELETE FROM audit_entries WHERE seq = 5"), [(MISSING, 5)]),
    "removed last entries": (lambda c: c.execute("DELETE FROM audit_entries WHERE seq >= 8"), [(MISSING, 8)]),
    "removed every entry": (lambda c: c.execute("DELETE FROM audit_entries"), [(MISSING, 1)]),
    "reordered entries": (lambda c: swap(c, 3, 4), [(REORDERED, 3), (REORDERED, 4)]),
    "removed and renumbered": (lambda c: (c.execute("DELETE FROM audit_entries WHERE seq = 5"), shift(c, 6, -1)),
                               [(MISSING, 5), (REORDERED, 5), (REORDERED, 6), (REORDERED, 7), (REORDERED, 8),
                                (REORDERED, 9)]),
    "forged entry at the end": (lambda c: forge_after(c, 10, 11), [(EDITED, 11)]),
    "forged entry in the middle": (lambda c: (shift(c, 6, 1), forge_after(c, 5, 6)),
                                   [(EDITED, 6), (REORDERED, 7), (REORDERED, 8), (REORDERED, 9), (REORDERED, 10),
                                    (REORDERED, 11)]),
    "head removed": (lambda c: c.execute("DELETE FROM audit_head"), [(HEAD, None)]),
    "head moved back": (lambda c: c.execute("UPDATE audit_head SET last_seq = 8"), [(HEAD, None)]),
}


@pytest.mark.parametrize("tamper", TAMPERINGS.values(), ids=TAMPERINGS.keys())
def test_each_kind_of_tampering_is_found_and_named(filled, trail, tamper):
    change, expected = tamper
    change(filled)
    result = trail.verify(filled)
    assert not result.ok
    assert sorted(kinds(result), key=lambda k: (k[1] is not None, k[1] or 0, k[0])) == \
        sorted(expected, key=lambda k: (k[1] is not None, k[1] or 0, k[0]))


def test_findings_say_precisely_what_happened(filled, trail):
    swap(filled, 2, 3)
    filled.execute("DELETE FROM audit_entries WHERE seq IN (6, 9, 10)")
    messages = [f.message for f in trail.verify(filled).findings]
    assert messages == ["entry 2 was written as entry 3: entries were reordered",
                        "entry 3 was written as entry 2: entries were reordered",
                        "entry 6 is missing",
                        "entries 9-10 are missing (removed from the end)"]
    missing = [f for f in trail.verify(filled).findings if f.kind == MISSING]
    assert [(f.seq, f.until_seq) for f in missing] == [(6, 6), (9, 10)]


def test_a_head_rolled_back_to_an_old_copy_leaves_genuine_entries_beyond_it(outbox, trail, connection):
    with outbox.transaction() as tx:
        trail.ensure_schema(tx)
    append_visit(outbox, trail, "visit-a", 3)
    old_head = connection.execute("SELECT last_seq, last_mac, mac FROM audit_head").fetchone()
    append_visit(outbox, trail, "visit-a", 2)
    connection.execute("UPDATE audit_head SET last_seq = ?, last_mac = ?, mac = ?", old_head)
    result = trail.verify(connection)
    assert kinds(result) == [(BEYOND_HEAD, 4)]
    assert result.findings[0].until_seq == 5


def test_appending_to_a_tampered_trail_is_refused(filled, trail, outbox):
    filled.execute("UPDATE audit_head SET last_seq = 8")
    with pytest.raises(AuditError, match="head record does not verify"):
        append_visit(outbox, trail, "visit-c", 1)
    assert len(raw_rows(filled)) == 10


MUTABLE = [("audit_entries", column) for column in ENTRY_COLUMNS] + [("audit_head", c) for c in HEAD_COLUMNS]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(target=st.sampled_from(MUTABLE), row=st.integers(1, 10), position=st.integers(0, 200),
       flip=st.integers(1, 255))
def test_any_single_byte_change_to_any_stored_row_is_detected(filled, trail, target, row, position, flip):
    copy = sqlite3.connect(":memory:")
    filled.backup(copy)
    table, column = target
    where, key = ("seq = ?", row) if table == "audit_entries" else ("id = ?", 1)
    value = copy.execute(f"SELECT {column} FROM {table} WHERE {where}", (key,)).fetchone()[0]
    if isinstance(value, int):
        byte = position % 3  # a byte of a small integer; seq stays positive
        changed = value ^ (flip << (8 * byte))
        if table == "audit_entries" and copy.execute("SELECT 1 FROM audit_entries WHERE seq = ?",
                                                     (changed,)).fetchone():
            changed = -changed  # another row holds that number: a negative one is free
    else:
        raw = bytearray(value.encode("utf-8"))
        raw[position % len(raw)] ^= flip
        try:
            changed = raw.decode("utf-8")
        except UnicodeDecodeError:
            changed = bytes(raw)  # not text any more: stored as a blob, as raw SQL could
    copy.execute(f"UPDATE {table} SET {column} = ? WHERE {where}", (changed, key))
    try:
        result = trail.verify(copy)
    except WrongAuditKey:
        assert (table, column) in {("audit_head", "algorithm"), ("audit_head", "key_check")}
        return
    assert not result.ok
    if table == "audit_entries" and column != "seq":
        assert kinds(result) == [(EDITED, row)]


def test_personal_data_is_refused_and_nothing_is_written(filled, trail, outbox):
    for details in ({"id": "370102198001011234"}, {"id": "id 37010219800101123X, checked"},
                    {"id": 370102198001011234}, {"name": "张三"}, {"people": [{"who": "holder 欧阳娜娜"}]},
                    {"张三": "key"}):
        with pytest.raises(PersonalDataInDetails) as refused:
            with outbox.transaction() as tx:
                tx.enqueue("loss_report_event", {}, subject="visit-c")
                trail.append(tx, visit_id="visit-c", service_item="1.10.6", step="identify", outcome="ok",
                             details=details)
        assert "370102" not in str(refused.value) and "张三" not in str(refused.value)
    with pytest.raises(PersonalDataInDetails, match="visit_id"):
        with outbox.transaction() as tx:
            trail.append(tx, visit_id="370102198001011234", service_item="1.10.6", step="s", outcome="ok", details={})
    assert len(raw_rows(filled)) == 10
    assert filled.execute("SELECT count(*) FROM outbox_jobs").fetchone()[0] == 10
    assert trail.verify(filled).ok


def test_masked_values_pseudonyms_and_tokens_are_accepted(filled, trail, outbox, keys):
    holder = trail.pseudonym("370102198001011234")
    details = {"id": "3713**********1234", "name": "张*", "holder": holder, "status": "temporary_loss",
               "job": "0123456789012345678abcdef0123456", "attempts": 2}
    with outbox.transaction() as tx:
        entry = trail.append(tx, visit_id="visit-c", service_item="lost_card", step="report_loss",
                             outcome="ok", details=details)
    assert entry.seq == 11 and entry.details == details
    assert trail.verify(filled).ok


def test_pseudonyms_are_keyed_and_stable(keys, audit_secret):
    key = audit_key_from(keys, audit_secret)
    other = audit_key_from(KeyRing.generate(), audit_secret)
    value = "370102198001011234"
    assert pseudonym(key, value) == pseudonym(key, value)
    assert len(pseudonym(key, value)) == 32
    assert pseudonym(key, value) != pseudonym(other, value)
    assert pseudonym(key, value) != pseudonym(key, "370102198001011235")
    assert pseudonym(key, value) != pseudonym(key, value, "sha256")


def test_the_audit_key_survives_a_change_of_the_current_key(audit_secret):
    first = KeyRing({"k1": bytes(range(16))}, "k1")
    rotated = KeyRing({"k1": bytes(range(16)), "k2": bytes(range(16, 32))}, "k2")
    assert audit_key_from(first, audit_secret) == audit_key_from(rotated, audit_secret)
    assert len(audit_key_from(first, audit_secret)) == 32
    assert audit_key_from(first, audit_secret) != audit_key_from(KeyRing({"k1": bytes(range(1, 17))}, "k1"),
                                                                 audit_secret)


def test_the_files_beside_the_database_alone_do_not_give_the_audit_key(filled, keys, audit_secret):
    """#16: the key file is beside the database; without the audit secret kept apart, no MAC
    can be computed, so entries can be neither forged nor re-chained."""
    assert audit_key_from(keys, bytes(32)) != audit_key_from(keys, audit_secret)
    with pytest.raises(WrongAuditKey):
        AuditTrail(audit_key_from(keys, bytes(32))).verify(filled)
    with pytest.raises(AuditError, match="at least 32 bytes"):
        audit_key_from(keys, b"")


def test_append_outside_a_transaction_is_refused(filled, trail):
    with pytest.raises(AuditError, match="inside the caller's transaction"):
        trail.append(filled, visit_id="v", service_item="1.10.6", step="s", outcome="ok", details={})


def test_bad_arguments_are_typed_errors(filled, trail, outbox):
    with pytest.raises(AuditError, match="32 bytes"):
        AuditTrail(b"short")
    with pytest.raises(AuditError, match="unknown audit algorithm"):
        AuditTrail(bytes(32), "md5")
    with pytest.raises(AuditError, match="not plain JSON"):
        with outbox.transaction() as tx:
            trail.append(tx, visit_id="v", service_item="1.10.6", step="s", outcome="ok", details={"t": object()})
    assert len(raw_rows(filled)) == 10


def test_a_wrong_key_or_algorithm_is_told_apart_from_tampering(filled, trail):
    with pytest.raises(WrongAuditKey, match="key does not match"):
        AuditTrail(audit_key_from(KeyRing.generate(), bytes(32))).verify(filled)
    with pytest.raises(WrongAuditKey, match="written with 'sm3'"):
        AuditTrail(bytes(32), "sha256").verify(filled)


def test_the_sha256_setting_makes_its_own_chain(outbox, connection, keys, audit_secret):
    trail = AuditTrail(audit_key_from(keys, audit_secret), "sha256")
    with outbox.transaction() as tx:
        trail.ensure_schema(tx)
    append_visit(outbox, trail, "visit-a", 3)
    assert trail.verify(connection).ok
    connection.execute("UPDATE audit_entries SET step = 'other' WHERE seq = 2")
    assert kinds(trail.verify(connection)) == [(EDITED, 2)]


def test_an_unreadable_entry_is_a_typed_error_for_entries_and_a_finding_for_verify(filled, trail):
    filled.execute("UPDATE audit_entries SET details = X'7B22FF227D' WHERE seq = 3")
    with pytest.raises(AuditError, match="unreadable entry"):
        trail.entries(filled)
    assert kinds(trail.verify(filled)) == [(EDITED, 3)]


def test_a_database_without_a_trail_is_a_typed_error(trail, tmp_path):
    with pytest.raises(AuditError, match="no audit trail"):
        trail.verify(sqlite3.connect(tmp_path / "empty.db"))


def test_two_threads_appending_through_their_own_outboxes_keep_one_chain(db_path, keys, trail, connection):
    with Outbox(db_path, keys).transaction() as tx:
        trail.ensure_schema(tx)
    outboxes = [Outbox(db_path, keys), Outbox(db_path, keys)]
    errors = []
    start = threading.Barrier(2)

    def visit(box, name):
        try:
            start.wait(timeout=10)
            append_visit(box, trail, name, 40, pause_s=0.01)
        except BaseException as exc:  # surfaced below: a thread's failure must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=visit, args=(box, f"visit-{n}")) for n, box in enumerate(outboxes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for box in outboxes:
        box.close()
    assert errors == []
    result = trail.verify(connection)
    assert result.ok and result.entries == 80
    for name in ("visit-0", "visit-1"):
        assert [e.step for e in trail.entries(connection, name)] == [f"step-{n}" for n in range(40)]
    visits = [e.visit_id for e in trail.entries(connection)]
    assert visits != sorted(visits), "the two threads never interleaved: the test proved nothing"
