"""The kiosk killed (SIGKILL) at each step of an instant issuance, then started again: the
issuance journal tells it which card is where. Before the citizen's PIN is on the card, the
start settles it alone (card retained, mark cancelled, the application open and resumed by the
next visit); from the PIN on, the card waits in the printer for staff, and `kiosk issuance
resume|reject` finish or undo it, never rejecting a card the backend holds as the holder's."""
from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from drivers.pin import Pin
from drivers.sim.card_printer import CardPrinterSimulator
from kiosk.cli import main as kiosk_main
from kiosk.config import load_config
from kiosk.core import KioskCore
from tests.backend_helpers import SAMPLE_APPLICATION, kiosk_config_file

CHILD = Path(__file__).with_name("issuance_crash_child.py")
REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(CHILD.parent))
from issuance_crash_child import NEW_PIN, WANG_WU  # noqa: E402

# Where the kiosk dies -> what the next start leaves: the journal entry's status, where the
# card is (None: no blank was fed), the application at the backend; and what staff then do.
POINTS = {
    "after:opened": ("rejected", None, "applied", None),
    "after:marked": ("rejected", None, "applied", None),
    "after:feed": ("rejected", "retained", "applied", None),
    "after:blank_fed": ("rejected", "retained", "applied", None),
    "after:chip_personalised": ("rejected", "retained", "applied", None),
    "after:pin_set": ("needs_staff", "encoder", "marked", "resume"),
    "after:face_printed": ("needs_staff", "printer", "marked", "reject"),
    "after:reporting": ("needs_staff", "printer", "marked", "reject"),
    "before:reported": ("needs_staff", "printer", "written", "reject-refused"),
    "after:reported": ("needs_staff", "printer", "written", "reject-refused"),
}


@pytest.fixture
def card_printer(tmp_path, pcscd):
    with CardPrinterSimulator(out_dir=tmp_path / "faces") as simulator:
        yield simulator


@pytest.fixture
def config_file(tmp_path, reference_backend, pki_files, card_printer, psam_slot):
    return kiosk_config_file(tmp_path, reference_backend, pki_files, card_printer.port, delivery_wait_s=1.0)


def application(backend) -> tuple[str, str]:
    return backend.store._conn.execute("SELECT application_id, status FROM applications WHERE id_number = ?",
                                       (WANG_WU.id_number,)).fetchone()


def kiosk_cli(config_file, *args, capsys) -> tuple[int, str]:
    code = kiosk_main(["--config", str(config_file), "issuance", *args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.mark.parametrize("point", POINTS)
def test_an_issuance_cut_off_by_a_crash_is_settled_at_the_next_start(point, config_file, reference_backend,
                                                                    card_printer, capsys):
    status, place, application_status, staff = POINTS[point]
    child = subprocess.run([sys.executable, str(CHILD), str(config_file), point], cwd=REPO, capture_output=True,
                           env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}, timeout=60)
    assert child.returncode == -signal.SIGKILL, child.stdout.decode() + child.stderr.decode()

    core = KioskCore(load_config(str(config_file))).start()   # the start settles what it can
    try:
        [entry] = core.issuance_journal.recent(1)
        assert entry.status == status, entry.note
        assert (card_printer.cards[-1].place if card_printer.cards else None) == place
        application_id, state = application(reference_backend)
        assert state == application_status
        assert core.issuance.available() == (status != "needs_staff")   # no new card over a held one
        if status == "rejected":
            # The kiosk serves the next visit, and applying again resumes the same application.
            visit = core.services.new_visit()
            visit.identify(WANG_WU)
            visit.application = SAMPLE_APPLICATION
            visit.assure("face", {"score": 0.3})   # as after a face check that matched
            with Pin.from_text(NEW_PIN) as new:
                results = core.services.apply(visit, True, new)
            assert [r.outcome for r in results] == ["done", "done", "done"], results
            assert application(reference_backend) == (application_id, "written")
            assert card_printer.cards[-1].place == "ejected"
            return
    finally:
        core.close()

    code, listing = kiosk_cli(config_file, "list", capsys=capsys)
    assert code == 0 and application_id in listing and "needs_staff" in listing
    if staff == "reject-refused":
        code, said = kiosk_cli(config_file, "reject", application_id, capsys=capsys)
        assert code == 1 and "cannot be rejected" in said
        staff = "resume"
    code, said = kiosk_cli(config_file, staff, application_id, capsys=capsys)
    assert code == 0, said
    if staff == "resume":
        assert card_printer.cards[-1].place == "ejected" and card_printer.cards[-1].faces
        assert application(reference_backend) == (application_id, "written")
        card_id = card_printer.cards[-1].identifier.hex().upper()
        sealed = reference_backend.store._conn.execute("SELECT status FROM cards WHERE card_id = ?",
                                                       (card_id,)).fetchone()[0]
        assert sealed == "sealed"   # its holder activates it
    else:
        assert card_printer.cards[-1].place == "retained"
        assert application(reference_backend) == (application_id, "applied")
    code, listing = kiosk_cli(config_file, "list", capsys=capsys)
    assert code == 0 and "no unfinished issuance" in listing
    with sqlite3.connect(load_config(str(config_file)).outbox.db) as db:
        steps = [row[0] for row in db.execute("SELECT step FROM audit_entries ORDER BY seq")]
    assert f"staff_{staff}_issuance" in steps   # what staff did is in the trail
