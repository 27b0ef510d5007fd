"""The composition root: builds the kiosk's parts from its configuration and wires them.

Nothing else constructs clients, queues or devices (the devices through `Devices`), so a
reader of this file sees every part the kiosk runs with and what it depends on. The screens
and the command line take what they need from a `KioskCore`.
"""
from __future__ import annotations

import datetime
import logging
import secrets
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

from drivers.camera import Camera
from drivers.pin import Pin
from kiosk.audit import AuditError, AuditTrail, audit_key_from
from kiosk.audit_secret import load_audit_secret
from kiosk.backend.client import BackendClient
from kiosk.backend.delivery import health_probe, outbox_sender
from kiosk.backend.errors import BackendError
from kiosk.backend.hsm import BackendHsmSecurityModule, load_terminal_pin_key
from kiosk.card_service import CardService
from kiosk.config import KioskConfig, parse_fee_charges, refuse_open_secrets
from kiosk.devices import Devices
from kiosk.file_safety import refuse_a_lost_key_file
from kiosk.face_check import FaceCheckSettings
from kiosk.fees import Payments
from kiosk.identification import Identification
from kiosk.identity_assurance import IdentityAssurance
from kiosk.outcome import Outcome
from kiosk.process import keep_the_heap_compact
from kiosk.receipt import RECEIPT_FAILED, Handout, hand_out
from kiosk.services import catalog
from kiosk.services.base import BackendLink, ServiceResult
from kiosk.services.runner import KioskServices
from kiosk.health import HealthMonitor
from kiosk.metrics import MetricsExporter
from kiosk.staff_pin import StaffGate, StaffLockoutStore
from kiosk.version import SOFTWARE_VERSION
from kiosk.stats import ServiceStats
from kiosk.visit import Visit
from kiosk.services.issuance import InstantIssuance, IssuanceSettings
from kiosk.services.issuance_journal import IssuanceJournal
from offline_queue import Backoff, DeliveryWorker, KeyRing, Outbox

log = logging.getLogger(__name__)


class KioskCore:
    """Every non-UI part of a running kiosk. `start()` starts the outbox's delivery worker."""

    def __init__(self, config: KioskConfig, camera: Camera | None = None):
        """`camera` stands in for [camera] device: the simulation's camera."""
        self.config = config
        if config.source != "defaults":  # a deployed kiosk's own files; the demo makes its own
            refuse_open_secrets(config)
        backend = config.backend
        self.client = BackendClient(backend.url, ca_file=backend.ca_file, cert_file=backend.cert_file,
                                    key_file=backend.key_file, connect_timeout_s=backend.connect_timeout_s,
                                    read_timeout_s=backend.read_timeout_s, call_deadline_s=backend.call_deadline_s,
                                    max_reply_bytes=backend.max_reply_bytes)
        box = config.outbox
        Path(box.db).parent.mkdir(parents=True, exist_ok=True)
        refuse_a_lost_key_file(box.key_file, box.db)
        keys = KeyRing.load_or_create(box.key_file)
        self.outbox = Outbox(box.db, keys)
        self.audit = AuditTrail(audit_key_from(keys, load_audit_secret(config)))
        self.stats = ServiceStats()
        with self.outbox.transaction() as tx:
            self.stats.ensure_schema(tx)
        self.worker = DeliveryWorker(self.outbox, outbox_sender(self.client), health_probe(self.client),
                                     senders=box.senders, batch_size=box.batch_size, lease_s=box.lease_s,
                                     poll_s=box.poll_s, probe_interval_s=box.probe_interval_s,
                                     backoff=Backoff(box.backoff_base_s, box.backoff_cap_s),
                                     give_up_attempts=box.give_up_attempts, give_up_s=box.give_up_days * 86400,
                                     reconnect_spread_s=box.reconnect_spread_s)
        # The backend's HSM: the security module in HSM mode, and with a PSAM, for the cards of
        # the regions whose keys it lacks ([security] hsm_regions).
        hsm = (BackendHsmSecurityModule(self.client, load_terminal_pin_key(config))
               if config.security.module == "hsm" or config.security.hsm_region_codes else None)
        self.cards = CardService(config, hsm)
        self.link = BackendLink(self.client, self.outbox, self.audit, delivery_wait_s=box.delivery_wait_s,
                                link_up=lambda: self.worker.link_up)
        self.payments = Payments(self.link, parse_fee_charges(config.fees.charges))
        self.devices = Devices(config, camera)
        self.identification = Identification(self.devices, self.cards, self.link)
        # What opens diagnostics: its lockout kept in the database, each sign-in and lockout audited.
        self.staff_gate = StaffGate(config.ui.staff_pin_scrypt, config.ui.staff_cards,
                                    store=StaffLockoutStore(self.outbox), on_event=self._staff_event)
        self._stopping = threading.Event()
        self._heartbeat = threading.Thread(target=self._send_heartbeats, name="heartbeat", daemon=True)
        # The screens' link probe (the offline banner) runs here, always on the same thread:
        # the client keeps one keep-alive session per thread, so a new thread per probe left a
        # session and its open TLS connection behind every few seconds.
        self.link_prober = ThreadPoolExecutor(max_workers=1, thread_name_prefix="link-probe")
        self.issuance_journal = IssuanceJournal(self.outbox)
        self.issuance = None
        if self.devices.card_printer is not None:
            printer = config.card_printer
            self.issuance = InstantIssuance(self.link, self.cards, self.devices.card_printer, IssuanceSettings(
                encoder_reader=printer.encoder_reader, initial_pin=printer.initial_pin,
                spec_version=printer.spec_version, card_type=printer.spec_version[0],
                initialising_org=printer.initialising_org), self.issuance_journal)
        identity = config.identity
        self.assurance = IdentityAssurance(
            self.link, self.devices, self.staff_gate, FaceCheckSettings(match_threshold=identity.match_threshold),
            face_also_for=frozenset(n.strip() for n in identity.face_required_for.split(",") if n.strip()),
            terminal_number=config.terminal.terminal_number)
        self.services = KioskServices(self.link, self.cards, self.issuance, self.assurance,
                                      region_code=config.terminal.region_code,
                                      terminal_number=config.terminal.terminal_number,
                                      service_phone=config.terminal.office_phone, on_result=self._count,
                                      payments=self.payments)
        self.health = HealthMonitor(self, busy=self.services.busy)
        self.metrics = MetricsExporter(self)

    def read_card_pin_on_pad(self, on_key: Callable[[str], None], cancel: threading.Event) -> Pin:
        """The social security card's PIN typed on the encrypting PIN pad ([pin_entry] device =
        'pad'), in its plain-text mode: the card checks it, so the pad hands it over, into a Pin."""
        with self.devices.pin_pad() as pad:
            return pad.read_card_pin(on_key=on_key, cancel=cancel)

    def _staff_event(self, event: str, detail: dict) -> None:
        """Staff sign-ins, lockouts and staff cards that failed their proof, in the audit trail."""
        try:
            self.link.record("staff", "staff", event, Outcome.DONE if event == "staff_signed_in" else Outcome.REFUSED,
                             detail)
        except Exception:   # the gate's answer stands; staff see the line in the log
            log.exception("staff event %s not recorded", event)

    def hand_out_receipt(self, visit: Visit) -> Handout | None:
        """The visit's one receipt, printed or (when it cannot be) shown on screen; None when
        nothing was done. A receipt that cannot even be made, a fault of ours, is logged for
        staff and the citizen is sent to them: the services themselves stand."""
        try:
            receipt = self.services.receipt(visit)
            return None if receipt is None else hand_out(receipt, self.devices)
        except Exception:
            log.exception("the receipt of visit %s could not be made", visit.visit_id)
            return Handout(RECEIPT_FAILED)

    def _count(self, visit: Visit, result: ServiceResult, machine_ms: float) -> None:
        """Statistics for the office's progress reports: each item's outcome and times."""
        if not catalog.owner(result.action).is_service_item:
            return
        total_ms = max(visit.elapsed_seconds() * 1000, machine_ms)
        try:
            with self.outbox.transaction() as tx:
                self.stats.record(tx, service_item=result.service_item, outcome=result.outcome,
                                  machine_ms=machine_ms, total_ms=total_ms,
                                  at_utc=datetime.datetime.now(datetime.timezone.utc),
                                  outbox_job_id=result.outbox_reference if result.outcome == Outcome.PENDING else None)
        except Exception:
            # A statistic lost (to a full disk, or a fault of ours) must not undo a service the
            # citizen was told is done, nor turn its result into an exception.
            log.exception("statistics for %s not recorded", result.service_item)

    def start(self) -> "KioskCore":
        keep_the_heap_compact()   # before the kiosk's threads start
        self._recover_issuances()
        # Audit entries a crash left unsent (a visit that never ended) leave now.
        self.link.send_audit_trail(self.config.terminal.terminal_number)
        self.worker.start()
        self._heartbeat.start()
        self.metrics.start()
        return self

    def _recover_issuances(self) -> None:
        """Cards a crash left half made are settled or held for staff before anyone is served."""
        if self.issuance is None:
            return
        try:
            for entry in self.issuance.recover():
                log.warning("interrupted issuance of %s at %s: %s%s", entry.application_id, entry.step, entry.status,
                            f" ({entry.note})" if entry.note else "")
        except Exception:   # the kiosk still serves; the journal keeps the entries for staff
            log.exception("the interrupted issuances could not be recovered")

    def _send_heartbeats(self) -> None:
        interval = self.config.backend.heartbeat_interval_s
        while not self._stopping.wait(interval):
            if self.worker.link_up:
                self.send_heartbeat()

    def send_heartbeat(self) -> bool:
        """Tells the backend that this kiosk lives, how its devices, supplies and outbox stand
        (kiosk/health.py), so the fleet's staff see a silent kiosk or one out of paper. Sent
        directly: a heartbeat that waited in the outbox through an outage would say nothing
        true when it arrived. Whether it was sent; a failure is logged, the next beat tries again."""
        try:
            health = self.health.snapshot()   # its outbox counts are the heartbeat's too
            outbox = health["outbox"]
            with self.outbox.transaction() as tx:
                audit_head = self.audit.head(tx)
            self.client.record_heartbeat(self.config.terminal.terminal_number, outbox["pending"],
                                         outbox["oldest_pending_age_s"], SOFTWARE_VERSION, dead_letters=outbox["dead"],
                                         audit_head=audit_head, staff_lockouts=self.staff_gate.lockouts,
                                         health=health, idempotency_key=secrets.token_hex(16))
            return True
        except BackendError as exc:
            log.info("heartbeat not sent: %s", exc)
        except (sqlite3.Error, AuditError) as exc:   # the thread lives on
            log.error("heartbeat not made: %s", exc)
        return False

    def close(self, drain_s: float = 0.0) -> None:
        """Stops the kiosk's parts. With `drain_s`, first gives the worker that long to deliver
        what is pending while the link is up (a short-lived command's last jobs); whatever is
        left stays in the outbox for the next start."""
        deadline = time.monotonic() + drain_s
        while self.outbox.stats().pending and self.worker.link_up and time.monotonic() < deadline:
            time.sleep(0.05)
        self._stopping.set()
        self.metrics.stop()
        if self._heartbeat.is_alive():
            self._heartbeat.join(5)
        self.link_prober.shutdown(wait=False, cancel_futures=True)
        self.worker.stop()
        self.assurance.release()
        self.devices.close()
        self.client.close()
        self.outbox.close()
