"""The soak: thousands of visits through the whole simulated kiosk, a tenth of them with a fault
injected, then the books are balanced at the backend.

Each visit is one citizen doing one thing: a temporary loss report by ID number (a new person
each time), a PIN change or a PIN reset on the card in the reader, or a rating. A fault visit
does the same with one of: the backend stopped for the visit (and started again after it), the
card pulled out at a random APDU of a PIN change, the PSAM taken out during a PIN reset, the
receipt printer's paper running out mid-receipt, its cover left open, the backend's replies
trickling in a byte at a time (each byte within the read timeout: only the whole-call deadline
ends such a call), or an exception nobody foresaw raised at a random step of the service.

An item whose result the kiosk could not confirm (the unforeseen exception: "the result could
not be confirmed, have it checked") may or may not have taken effect, but never twice. Every
visit must end, whatever happened in it (`visits_left_open`).

At the end the backend must hold exactly one effect for every item the kiosk told a citizen
was done or queued, and none for an item it said failed: `lost` and `duplicated` count the
differences. Every receipt is handed out as the kiosk does (`hand_out`, on the simulated
printer at 115200 baud): it must have come out of the printer whole exactly once when the kiosk
said "printed", and never whole when it showed it on screen instead (`receipt_mismatches`).

Memory (RSS), threads and open files are compared between the end of a warm-up and the end of
the run. The reference backend runs in a process of its own, as the province's system is
another machine, so these are the kiosk's figures (with the simulators and the soak's own
books), not the backend's.

Run from the repo root: `.venv/bin/python bench/soak.py [--visits 2000] [--fault-rate 0.1]`
(or `./run bench soak`). Everything it needs (pcscd, simulators, backend) runs in a temporary
folder. The last line is JSON: visits, faults, lost, duplicated, visits_left_open, memory_growth_pct.
"""
from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import datetime
import json
import logging
import os
import random
import re
import selectors
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

# Run as a script, only bench/ is on sys.path; the tests import this module as bench.soak.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from drivers.id_card_reader import id_check_digit  # noqa: E402
from drivers.pcsc import wait_for_card  # noqa: E402
from drivers.pin import Pin  # noqa: E402
from drivers.sim.pcscd import CARD_READER, PSAM_READER, VPCD_CARD_PORT, VPCD_PSAM_PORT, pcscd_running  # noqa: E402
from drivers.sim.psam import SimulatedPsam  # noqa: E402
from drivers.sim.receipt_printer import SimulatedReceiptPrinter  # noqa: E402
from drivers.sim.ssse_card import CardProfile, SimulatedSocialSecurityCard  # noqa: E402
from drivers.sim.vpcd import VpcdLink  # noqa: E402
from kiosk.audit import AuditTrail  # noqa: E402
from kiosk.card_service import CardService  # noqa: E402
from kiosk.core import KioskCore  # noqa: E402
from kiosk.device_messages import UNEXPECTED  # noqa: E402
from kiosk.services.base import BackendLink  # noqa: E402
from offline_queue import Outbox  # noqa: E402
from reference_backend.pki import make_test_pki  # noqa: E402
from reference_backend.store import BackendStore  # noqa: E402
from kiosk.config import KioskConfig  # noqa: E402
from kiosk.logging_setup import configure_logging  # noqa: E402
from kiosk.receipt import hand_out, render_escpos, render_text  # noqa: E402
from kiosk.process import return_free_memory  # noqa: E402
from kiosk.visit import CitizenIdentity  # noqa: E402

CARD_ID = "371300D15600000500BF7C7A48FB4966"   # the card of card_v3.toml
HOLDER = CitizenIdentity("371302198001011239", "张三", "1", 1, datetime.date(1980, 1, 1))
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂"


def person(n: int) -> CitizenIdentity:
    """The n-th citizen of the soak: a valid ID number (GB 11643 check digit) and a name."""
    birth = datetime.date(1950, 1, 1) + datetime.timedelta(days=n % 20000)
    first17 = f"110105{birth:%Y%m%d}{n % 1000:03d}"
    name = SURNAMES[n % len(SURNAMES)] + GIVEN[(n // len(SURNAMES)) % len(GIVEN)] + GIVEN[(n // 7) % len(GIVEN)]
    return CitizenIdentity(first17 + id_check_digit(first17), name, "1", 1, birth)


def pin_text(rng: random.Random) -> str:
    """A PIN the kiosk's weak-PIN policy accepts (no repeats, no runs)."""
    while True:
        digits = rng.sample("0123456789", 6)
        if all(abs(int(a) - int(b)) != 1 for a, b in zip(digits, digits[1:])):
            return "".join(digits)


@dataclasses.dataclass
class Books:
    """What the kiosk promised, to be checked against what the backend holds."""

    expected: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    outcomes: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    faults: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    persons: list = dataclasses.field(default_factory=list)   # everyone who came: for the at-rest scan
    pins: list = dataclasses.field(default_factory=list)
    unclear: list = dataclasses.field(default_factory=list)   # a failed item without a message for the citizen
    unconfirmed: collections.Counter = dataclasses.field(default_factory=collections.Counter)  # once at most
    left_open: int = 0
    handouts: dict = dataclasses.field(default_factory=dict)  # verification reference -> printed (True) or shown
    whole_copies: collections.Counter = dataclasses.field(default_factory=collections.Counter)  # per reference

    def promised(self, effect: str, results) -> None:
        for result in results:
            self.outcomes[result.outcome] += 1
            if result.ok:
                self.expected[effect] += 1
            elif result.citizen_message == UNEXPECTED:
                self.unconfirmed[effect] += 1
            elif not result.citizen_message:
                self.unclear.append(result)


class BackendProcess:
    """The reference backend in a process of its own (`kiosk backend serve`), as the province's
    system is another machine: the soak's memory figures are then the kiosk's alone. Started
    again on the same port after an outage."""

    def __init__(self, db: Path, certs: Path, log: Path):
        self.db, self.certs, self.log = db, certs, log
        self.port = 0
        self.url = ""
        self._process: subprocess.Popen | None = None

    def start(self, timeout_s: float = 20.0) -> None:
        offset = self.log.stat().st_size if self.log.exists() else 0
        with open(self.log, "ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-c", "import sys; from kiosk.cli import main; sys.exit(main())", "backend", "serve",
                 "--host", "127.0.0.1", "--port", str(self.port), "--db", str(self.db), "--certs", str(self.certs)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        while True:   # it prints its address once it listens
            with open(self.log, "rb") as log:
                log.seek(offset)
                started = re.search(rb"reference backend on (https://\S+)", log.read())
            if started:
                self.url = started.group(1).decode()
                self.port = urlparse(self.url).port
                return
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the reference backend did not start; see {self.log}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(10)


class TrickleRelay:
    """A TCP relay between the kiosk and the backend, one thread for every connection. While
    `trickling`, the backend's bytes (TLS records, untouched) reach the kiosk one at a time,
    `slow_s` apart. Stopped with the backend, so that an outage is a refused connection as
    before, and started again on the same port."""

    def __init__(self, target_port: int, slow_s: float = 0.3):
        self.target_port = target_port
        self.slow_s = slow_s
        self.trickling = False
        self.port = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self.port = self._listener.getsockname()[1]
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="trickle-relay", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self._listener, selectors.EVENT_READ)
        peers: dict[socket.socket, socket.socket] = {}
        waiting: dict[socket.socket, bytearray] = {}   # kiosk side -> the backend's bytes not yet passed on
        next_drip = 0.0

        def close(sock: socket.socket) -> None:
            for end in (sock, peers.pop(sock, None)):
                if end is not None:
                    peers.pop(end, None)
                    waiting.pop(end, None)
                    with contextlib.suppress(KeyError, ValueError):
                        selector.unregister(end)
                    end.close()

        try:
            while not self._stop.is_set():
                for key, _ in selector.select(timeout=0.02):
                    sock = key.fileobj
                    if sock is self._listener:
                        kiosk_side, _ = self._listener.accept()
                        try:
                            backend_side = socket.create_connection(("127.0.0.1", self.target_port), timeout=1)
                        except OSError:
                            kiosk_side.close()
                            continue
                        peers[kiosk_side], peers[backend_side] = backend_side, kiosk_side
                        waiting[kiosk_side] = bytearray()
                        selector.register(kiosk_side, selectors.EVENT_READ)
                        selector.register(backend_side, selectors.EVENT_READ)
                        continue
                    try:
                        data = sock.recv(65536)
                    except OSError:
                        data = b""
                    if sock not in peers:
                        continue
                    if not data:
                        close(sock)
                    elif sock in waiting:
                        peers[sock].sendall(data)
                    else:
                        waiting[peers[sock]] += data
                now = time.monotonic()
                drip = now >= next_drip
                for kiosk_side, pending in list(waiting.items()):
                    if not pending or (self.trickling and not drip):
                        continue
                    size = 1 if self.trickling else len(pending)
                    try:
                        kiosk_side.sendall(bytes(pending[:size]))
                    except OSError:
                        close(kiosk_side)
                        continue
                    del pending[:size]
                if drip and self.trickling:
                    next_drip = now + self.slow_s
        finally:
            for sock in list(peers):
                close(sock)
            self._listener.close()


class SoakKiosk:
    """The whole simulated kiosk in `folder`, with handles to break its parts and mend them."""

    def __init__(self, folder: Path, stack: contextlib.ExitStack):
        self.folder = folder
        self.pki = make_test_pki(folder / "pki")
        self.backend_db = folder / "backend.db"
        self.backend = BackendProcess(self.backend_db, self.pki.directory, folder / "backend.log")
        self.backend.start()
        stack.callback(self.backend.stop)
        self.relay = TrickleRelay(self.backend.port)
        self.relay.start()
        stack.callback(self.relay.stop)
        self.psam = self._insert(SimulatedPsam(), VPCD_PSAM_PORT, PSAM_READER)
        stack.callback(lambda: self.psam.remove())
        self.card = SimulatedSocialSecurityCard(CardProfile.load("card_v3.toml"))
        self.card_link = self._insert(self.card, VPCD_CARD_PORT, CARD_READER)
        stack.callback(lambda: self.card_link.remove())
        self.printer = SimulatedReceiptPrinter(baudrate=115200)
        printer_port = self.printer.start()
        stack.callback(self.printer.stop)
        config = KioskConfig()
        config = dataclasses.replace(
            config,
            backend=dataclasses.replace(config.backend, url=self.backend.url.replace(
                f":{self.backend.port}", f":{self.relay.port}"), ca_file=str(self.pki.ca_cert),
                                        cert_file=str(self.pki.kiosk_cert), key_file=str(self.pki.kiosk_key),
                                        connect_timeout_s=1.0, read_timeout_s=3.0, call_deadline_s=2.0),
            outbox=dataclasses.replace(config.outbox, db=str(folder / "kiosk.db"), key_file=str(folder / "kiosk.key"),
                                       delivery_wait_s=1.0, probe_interval_s=0.5, poll_s=0.2, backoff_base_s=0.2,
                                       backoff_cap_s=2.0),
            card_printer=dataclasses.replace(config.card_printer, enabled=False),
            receipt_printer=dataclasses.replace(config.receipt_printer, port=printer_port, baud=115200))
        self.config = config
        self.core = KioskCore(config).start()
        stack.callback(self.core.close)
        with contextlib.closing(BackendStore(self.backend_db)) as store:
            store.seed_card(holder={"id_number": HOLDER.id_number, "name": HOLDER.name, "sex": "1", "ethnicity": 1,
                                    "birth_date": "19800101", "birthplace": "371302"},
                            card_id=CARD_ID, card_number="M12345678", region_code="371300",
                            issue_date="20240315", expiry_date="20340315", status="normal")

    @staticmethod
    def _insert(card, port: int, reader: str) -> VpcdLink:
        link = VpcdLink(card, port=port).insert()
        wait_for_card(reader, timeout=10)
        return link

    def seed_person(self, citizen: CitizenIdentity, n: int) -> None:
        # A connection of its own each time: the province's records are not the kiosk's memory.
        with contextlib.closing(BackendStore(self.backend_db)) as store:
            store.seed_card(
                holder={"id_number": citizen.id_number, "name": citizen.name, "sex": "1", "ethnicity": 1,
                        "birth_date": citizen.birth_date.strftime("%Y%m%d"), "birthplace": "110105"},
                card_id=f"110100D156000005{n:016X}", card_number=f"S{n:08d}", region_code="110100",
                issue_date="20240315", expiry_date="20340315", status="normal")

    # --- faults and their mending ---

    def stop_backend(self) -> None:
        self.relay.stop()
        self.backend.stop()

    def start_backend(self) -> None:
        self.backend.start()
        self.relay.start()

    def trickle(self, on: bool) -> None:
        self.relay.trickling = on

    def reinsert_card(self) -> None:
        """The citizen puts the card back after pulling it out mid-command."""
        wait_for_card(CARD_READER, timeout=10, present=False)
        self.card.profile.pull_out_after_apdus = None
        self.card_link.remove()
        self.card_link = self._insert(self.card, VPCD_CARD_PORT, CARD_READER)

    def remove_psam(self) -> None:
        self.psam.remove()
        wait_for_card(PSAM_READER, timeout=10, present=False)

    def insert_psam(self) -> None:
        self.psam = self._insert(SimulatedPsam(), VPCD_PSAM_PORT, PSAM_READER)

    def break_printer(self, fault: str, lines: int) -> None:
        if fault == "printer_paper_out":
            self.printer.set_state(paper_lines=lines)   # runs out this many lines into the receipt
        else:
            self.printer.set_state(cover_open=True)

    def mend_printer(self) -> None:
        self.printer.set_state(cover_open=False)
        self.printer.load_paper()

    # --- the books at the backend ---

    def effects(self) -> collections.Counter:
        with contextlib.closing(sqlite3.connect(self.backend_db)) as db:
            counts = collections.Counter(dict(db.execute(
                "SELECT event, COUNT(*) FROM card_events GROUP BY event").fetchall()))
            counts["review"] = db.execute("SELECT COUNT(*) FROM reviews").fetchone()[0]
        return collections.Counter({k: v for k, v in counts.items() if v})

    def drain(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while self.core.outbox.stats().pending and time.monotonic() < deadline:
            time.sleep(0.1)


def process_figures() -> dict:
    # As the kiosk does after every visit (screens/flow.py): the heap's free pages go back, so
    # what is compared is memory in use, not what the allocator keeps for later.
    return_free_memory()
    with open("/proc/self/statm") as f:
        rss_pages = int(f.read().split()[1])
    return {"rss": rss_pages * os.sysconf("SC_PAGE_SIZE"), "threads": threading.active_count(),
            "fds": len(os.listdir("/proc/self/fd"))}


class Soak:
    def __init__(self, kiosk: SoakKiosk, rng: random.Random, books: Books, receipts: Path):
        self.kiosk = kiosk
        self.rng = rng
        self.books = books
        self.receipts = receipts
        self.pin = kiosk.card.profile.pin
        self.next_person = 0

    def visit(self, number: int, fault: str | None) -> None:
        services = self.kiosk.core.services
        kind = {"card_pulled": "change_pin", "psam_removed": "reset_pin"}.get(fault) or self.rng.choice(
            ["loss", "loss", "change_pin", "reset_pin", "review"])
        if kind == "loss":
            # A person with a card on record at the backend (the soak's stand-in for the
            # province's existing card holders), seeded while the backend still runs.
            citizen = person(self.next_person)
            self.kiosk.seed_person(citizen, self.next_person)
            self.next_person += 1
            self.books.persons.append(citizen)
        if fault == "backend_down":
            self.kiosk.stop_backend()
        if fault in PRINTER_FAULTS:
            self.kiosk.break_printer(fault, self.rng.randint(0, 12))   # a receipt is 20 lines and more
        if fault == "backend_trickles":
            self.kiosk.trickle(True)
        visit = services.new_visit()
        try:
            with self.unforeseen(fault == "unexpected"):
                if kind == "loss":
                    visit.identify(citizen)
                    visit.assure("face", {"score": 0.3})   # as after a face check that matched
                    self.books.promised("loss_reported_temporary", services.report_loss(visit, "temporary"))
                elif kind == "review":
                    visit.identify(person(number))
                    visit.assure("face", {"score": 0.3})   # as after a face check that matched
                    self.books.promised("review", services.review(visit, "1.10.6", self.rng.randint(1, 5)))
                else:
                    self.pin_visit(visit, kind, fault)
            receipt = services.receipt(visit)
            if receipt is not None:
                (self.receipts / f"{number:05d}.txt").write_text(render_text(receipt), encoding="utf-8")
                (self.receipts / f"{number:05d}.escpos").write_bytes(render_escpos(receipt))
                handout = hand_out(receipt, self.kiosk.core.devices)
                self.books.handouts[receipt.verification_reference] = handout.printed
                # Printed unless the printer was broken; then on screen, with the reason.
                assert handout.printed == (fault not in PRINTER_FAULTS) and handout.note, (fault, handout.note)
        finally:
            services.end_visit(visit, "done")
            self.books.left_open += not visit.ended
            if fault == "backend_trickles":
                self.kiosk.trickle(False)
            if fault == "backend_down":
                self.kiosk.start_backend()
            if fault in PRINTER_FAULTS:
                self.kiosk.mend_printer()
            self.books.whole_copies += whole_copies(self.kiosk.printer.take_receipts(), self.kiosk.printer.columns)
            if fault == "psam_removed":
                self.kiosk.insert_psam()

    @contextlib.contextmanager
    def unforeseen(self, armed: bool):
        """With `armed`, one step of the service picked at random (in the kiosk's code: its
        link to the backend, its outbox, its audit trail, its card service) raises an exception
        nobody foresaw, on this thread only (the delivery worker is not the visit)."""
        if not armed:
            yield
            return
        owner, name = self.rng.choice(UNFORESEEN_STEPS)
        original, visit_thread = getattr(owner, name), threading.get_ident()
        fired = []

        def step(*args, **kwargs):
            if threading.get_ident() == visit_thread and not fired:
                fired.append(name)
                raise RuntimeError(f"soak: unforeseen failure in {owner.__name__}.{name}")
            return original(*args, **kwargs)
        setattr(owner, name, step)
        try:
            yield
        finally:
            setattr(owner, name, original)

    def pin_visit(self, visit, kind: str, fault: str | None) -> None:
        services, cards = self.kiosk.core.services, self.kiosk.core.cards
        visit.identify(HOLDER)
        visit.assure("face", {"score": 0.3})   # as after a face check that matched
        visit.present_card(cards.read())
        new = pin_text(self.rng)
        self.books.pins.append(new)
        if fault == "card_pulled":
            # Out at the next APDU or the one after: before CHANGE PIN reaches the card.
            self.kiosk.card.profile.pull_out_after_apdus = self.kiosk.card.apdus_seen + self.rng.randint(0, 1)
        if fault == "psam_removed":
            self.kiosk.remove_psam()
        with Pin.from_text(new) as new_pin:
            if kind == "change_pin":
                with Pin.from_text(self.pin) as old:
                    results = services.change_pin(visit, old, new_pin)
                effect = "pin_changed"
            else:
                results = services.reset_pin(visit, new_pin)
                effect = "pin_reset"
        self.books.promised(effect, results)
        if fault in ("card_pulled", "psam_removed"):
            assert not any(r.ok for r in results), (fault, results)
        if fault == "card_pulled":
            services.card_withdrawn(visit)
            self.kiosk.reinsert_card()
        if all(r.ok for r in results):
            self.pin = new
        elif fault == "unexpected" and any(r.citizen_message == UNEXPECTED for r in results):
            # "Not confirmed, have it checked": the card is the truth, one of the two PINs.
            assert self.kiosk.card.profile.pin in (self.pin, new)
            self.pin = self.kiosk.card.profile.pin
        # The card is the truth about its PIN: the kiosk must never have changed it unannounced.
        assert self.kiosk.card.profile.pin == self.pin, "the card's PIN changed without the kiosk saying so"


def restore_logging(handlers: list, level: int) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


PRINTER_FAULTS = ("printer_paper_out", "printer_cover_open")
FAULTS = ("backend_down", "backend_trickles", "card_pulled", "psam_removed", "unexpected", *PRINTER_FAULTS)
UNFORESEEN_STEPS = ((BackendLink, "queue"), (BackendLink, "call"), (BackendLink, "_settle_record"),
                    (Outbox, "job_state"), (AuditTrail, "append"), (CardService, "change_pin"),
                    (CardService, "reset_pin"))
REFERENCE = re.compile(r"核验码：(\S+)")


def whole_copies(printed, columns: int) -> collections.Counter:
    """Verification reference -> how many whole copies of that receipt are in `printed`."""
    return collections.Counter(match.group(1) for receipt in printed if receipt.complete
                               for match in [REFERENCE.search(receipt.as_text(columns))] if match)


def receipt_mismatches(handouts: dict, whole: collections.Counter) -> int:
    """Receipts the printer gave out whole other than exactly once when the kiosk said printed,
    or at all when it showed them on screen instead."""
    return sum(whole[reference] != (1 if was_printed else 0) for reference, was_printed in handouts.items()) + \
        sum(1 for reference in whole if reference not in handouts)


def run_soak(visits: int, fault_rate: float, folder: Path, seed: int = 2026) -> tuple[dict, Books]:
    """Runs the soak in `folder` (kept: the at-rest scan reads it) and returns its figures."""
    rng = random.Random(seed)
    books = Books()
    receipts = folder / "receipts"
    receipts.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with contextlib.ExitStack() as stack, pcscd_running(folder / "run"):
        # Everything the kiosk logs, at DEBUG, into the folder for the at-rest scan; the
        # caller's logging (pytest's capture) comes back afterwards.
        root = logging.getLogger()
        handlers, level = list(root.handlers), root.level
        log_file = stack.enter_context(open(folder / "kiosk.log", "w", encoding="utf-8"))
        configure_logging(json_lines=True, level=logging.DEBUG, stream=log_file)
        stack.callback(restore_logging, handlers, level)
        kiosk = SoakKiosk(folder, stack)
        soak = Soak(kiosk, rng, books, receipts)
        # The baseline is taken once the kiosk has met every kind of fault (or half-way at the
        # latest): the outbox's sender pool and the backend's connections grow to their size
        # when queued work is delivered after an outage, and that is not a leak.
        warm_up = max(20, visits // 10)
        baseline = None
        for number in range(visits):
            if baseline is None and number >= warm_up and (set(books.faults) == set(FAULTS) or number >= visits // 2):
                baseline = process_figures()
            fault = rng.choice(FAULTS) if rng.random() < fault_rate else None
            if fault:
                books.faults[fault] += 1
            soak.visit(number, fault)
        kiosk.drain(timeout_s=60)
        stats = kiosk.core.outbox.stats()
        # What a power cut now would leave on disk: the WAL goes away when the kiosk closes.
        for name in ("kiosk.db-wal", "kiosk.db-shm"):
            if (folder / name).exists():
                (folder / f"{name}.at-end").write_bytes((folder / name).read_bytes())
        end = process_figures()
        effects = kiosk.effects()
        books.whole_copies += whole_copies(kiosk.printer.take_receipts(), kiosk.printer.columns)
        mismatches = receipt_mismatches(books.handouts, books.whole_copies)
    wanted = set(books.expected) | set(effects)
    lost = sum(max(0, books.expected[k] - effects[k]) for k in wanted)
    duplicated = sum(max(0, effects[k] - books.expected[k] - books.unconfirmed[k]) for k in wanted)
    figures = {
        "visits": visits, "faults": sum(books.faults.values()), "lost": lost, "duplicated": duplicated,
        "visits_left_open": books.left_open, "unconfirmed": sum(books.unconfirmed.values()),
        "memory_growth_pct": round(100 * (end["rss"] - baseline["rss"]) / baseline["rss"], 2),
        "thread_growth": end["threads"] - baseline["threads"], "fd_growth": end["fds"] - baseline["fds"],
        "outbox_pending": stats.pending, "outbox_dead": stats.dead, "unclear_failures": len(books.unclear),
        "receipts_printed": sum(books.handouts.values()),
        "receipts_on_screen": sum(not printed for printed in books.handouts.values()),
        "receipt_mismatches": mismatches,
        "seconds": round(time.monotonic() - started, 1),
        "faults_by_kind": dict(books.faults), "outcomes": dict(books.outcomes),
        "expected": dict(books.expected), "at_backend": dict(effects),
    }
    return figures, books


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--visits", type=int, default=2000)
    parser.add_argument("--fault-rate", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kiosk-soak-") as tmp:
        figures, _ = run_soak(args.visits, args.fault_rate, Path(tmp), args.seed)
    print(json.dumps(figures, ensure_ascii=False))
    print(json.dumps({key: figures[key] for key in ("visits", "faults", "lost", "duplicated", "visits_left_open",
                                                      "memory_growth_pct")}))


if __name__ == "__main__":
    main()
