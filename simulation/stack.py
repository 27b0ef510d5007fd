"""The simulated kiosk, assembled once for the demo, the simulator panel, the benches and the
tests: pcscd with vpcd (the PSAM, the citizen's card), the card printer simulator (no
mechanical delay), the receipt printer and ID card reader simulators on pty pairs, and the
reference backend over TLS with a fresh test PKI, its store seeded with the demo citizen's
card. Everything lives in a temporary folder and stops at the end.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime
import io
import logging
import tempfile
import time
from pathlib import Path

from PIL import Image

from drivers.id_card_reader import IdDocument
from drivers.pcsc import PcscError, wait_for_card
from drivers.pin_pad import PinPad
from drivers.sim.camera import SimulatedCameraProcess, face_test_images
from drivers.sim.card_printer import CardPrinterSimulator, blank_social_security_card
from drivers.sim.id_card_reader import IdReaderProfile, SimulatedIdCardReader
from drivers.sim.qr_scanner import SimulatedQrScanner
from drivers.sim.pcscd import CARD_READER, PSAM_READER, VPCD_CARD_PORT, VPCD_PSAM_PORT, pcscd_running
from drivers.sim.psam import SimulatedPsam
from drivers.sim.pin_pad import SimulatedPinPad
from drivers.sim.receipt_printer import SimulatedReceiptPrinter
from drivers.sim.ssse_card import CardProfile, SimulatedSocialSecurityCard
from drivers.sim.vpcd import VpcdLink
from kiosk.application import ApplicationDetails, Category, Mailing
from kiosk.config import KioskConfig
from kiosk.core import KioskCore
from kiosk.staff_pin import hash_staff_pin, staff_card_digest
from simulation.config import config_for_simulation

log = logging.getLogger(__name__)
STAFF_PIN = "246810"   # the demo's diagnostics PIN (the panel shows it)
STAFF_CARD_PROFILE, STAFF_CARD_PIN = "card_v2.toml", "369258"   # a member of staff's own card, enrolled
# Zhang San's face: the face test set's person (drivers/sim/camera.py), registered with one
# photo, in front of the camera in another; the other person is someone else.
REGISTERED_PHOTO, CAMERA_PHOTO, OTHER_PERSON_PHOTO = "obama2.jpg", "obama.jpg", "biden.jpg"

# The holder of drivers/sim/profiles/card_v3.toml, as the ID card reader presents him.
ZHANG_SAN = IdDocument(name="张三", sex="1", ethnicity=1, birth_date=datetime.date(1980, 1, 1),
                       address="山东省临沂市兰山区沂蒙路1号", id_number="371302198001011239",
                       issuing_authority="临沂市公安局", valid_from=datetime.date(2020, 1, 1), valid_to=None)
ZHANG_SAN_CARD_ID = "371300D15600000500BF7C7A48FB4966"   # the card of card_v3.toml
# Someone with no card yet, and no photo in the registry: only staff can vouch for him. His
# insurance record names his employer (the application's details step shows it, #14).
LI_SI = IdDocument(name="李四", sex="1", ethnicity=1, birth_date=datetime.date(1975, 5, 5),
                   address="山东省临沂市兰山区沂蒙路2号", id_number="37130219750505123X",
                   issuing_authority="临沂市公安局", valid_from=datetime.date(2021, 1, 1), valid_to=None)

LI_SI_EMPLOYER = "聊城市鲁西机械制造有限公司"


def registry_photo(image: Path) -> bytes:
    """A photo as a province's registry holds one: at most 358x441, JPEG."""
    with Image.open(image) as photo:
        photo = photo.convert("RGB")
        photo.thumbnail((358, 441))
        out = io.BytesIO()
        photo.save(out, "JPEG", quality=90)
    return out.getvalue()


def seed_zhang_san(backend, status: str = "normal", card_id: str = ZHANG_SAN_CARD_ID) -> None:
    """The backend knows Zhang San, his card of card_v3.toml in `status` (or, by `card_id`, that
    card as another region issued it), and his registered photo (a photo of the face test set's
    person; the simulated camera shows another of him)."""
    backend.store.seed_photo(ZHANG_SAN.id_number, registry_photo(face_test_images() / REGISTERED_PHOTO))
    backend.store.seed_card(
        holder={"id_number": ZHANG_SAN.id_number, "name": ZHANG_SAN.name, "sex": "1", "ethnicity": 1,
                "birth_date": "19800101", "birthplace": "371302"},
        card_id=card_id, card_number="M12345678", region_code=card_id[:6],
        issue_date="20240315", expiry_date="20340315", status=status)


@dataclasses.dataclass
class SimulatedKiosk:
    config: KioskConfig
    backend: object
    folder: Path
    card: VpcdLink | None          # the citizen's card slot, holding Zhang San's card (not inserted)
    card_printer: CardPrinterSimulator
    receipt_printer: SimulatedReceiptPrinter | None
    id_reader: SimulatedIdCardReader | None
    made_cards: list               # the cards the card printer made, newest last
    camera: SimulatedCameraProcess   # Zhang San in front of it; `camera.scene` changes who is
    pin_pad: SimulatedPinPad | None = None   # `pin_pad.press("...\r")`: the citizen at its keys
    qr_scanner: SimulatedQrScanner | None = None
    network_cut: bool = False      # cut_network() took the backend away; restore_network() brings it back

    def show_essc_code(self, id_number: str, ttl_s: float = 60.0) -> str:
        """The citizen opens the electronic social security card in their phone's app (the
        backend issues a fresh code for them) and holds it under the scanner (#19)."""
        code = self.backend.store.issue_essc_code(id_number, ttl_s=ttl_s)
        self.qr_scanner.present(code)
        return code

    def garble_qr_scan(self, raw: bytes) -> None:
        """A phone's cracked screen under the scanner: the next read is `raw`."""
        self.qr_scanner.garble(raw)

    # The payment provider, as the citizen's payment app meets it (#19): the order the kiosk shows
    # is paid, fails, or runs out. Each returns the order as the backend then holds it.
    def pay_fee_order(self, order_id: str) -> dict:
        return self.backend.store.pay_fee_order(order_id)

    def fail_fee_order(self, order_id: str) -> dict:
        return self.backend.store.fail_fee_order(order_id)

    def expire_fee_order(self, order_id: str) -> dict:
        return self.backend.store.expire_fee_order(order_id)

    def insert_staff_card(self) -> None:
        """A member of staff puts their own card (card_v2.toml, enrolled as a staff card) in the reader."""
        self.card.remove()
        self.card.card = SimulatedSocialSecurityCard(CardProfile.load(STAFF_CARD_PROFILE))
        self.card.insert()

    def kiosk_core(self, config: KioskConfig | None = None) -> KioskCore:
        """The kiosk on this stack (not started): the simulated camera for its face checks,
        and the simulated person hearing the challenges it speaks."""
        core = KioskCore(config or self.config, camera=self.camera)
        core.assurance.listeners.append(self.camera.hear)
        return core

    def insert_made_card(self) -> None:
        """The citizen inserts the card the card printer made last."""
        self.card.card = self.made_cards[-1]
        self.card.insert()

    def cut_network(self) -> None:
        """The backend goes away like an outage (open connections end too)."""
        self.backend.stop()
        self.network_cut = True

    def restore_network(self) -> None:
        """The backend comes back on the same address with the same records (nothing to do
        when the network was never cut: a demo that failed before its outage)."""
        if not self.network_cut:
            return
        self.network_cut = False
        from reference_backend.server import open_backend
        host, port = self.backend.server_address[:2]
        self.backend = open_backend(host, port, self.folder / "backend.db",
                                    Path(self.config.backend.ca_file).parent).start()


def _take_out(link: VpcdLink, reader: str) -> None:
    """The card out of its slot, and pcscd has seen it go (it polls vpcd every 400 ms): the next
    stack's card in that slot must not be taken for this one, nor this one's leaving for its."""
    inserted = link.connected.is_set()
    link.remove()
    if inserted:
        try:
            wait_for_card(reader, timeout=5, present=False)
        except PcscError as exc:   # pcscd itself gone (a test stopped it): nothing left to see
            log.warning("%s: %s", reader, exc)


NO_READER = "No such reader (a simulation without smart cards)"


@contextlib.contextmanager
def simulated_kiosk(out: Path | None = None, *, serial_devices: bool = True, smart_cards: bool = True,
                    idle_timeout_s: float | None = None, **changes: dict):
    """Every simulated device and the backend, and a config pointing at them; pcscd with vpcd
    must be running (./run and the tests' `pcscd` fixture start it). `out` receives the printed
    card faces and receipts as PNGs; `serial_devices=False` leaves out the receipt printer and
    the ID reader (and their pty threads); `smart_cards=False` leaves the vpcd slots alone (no
    PSAM, no card; the kiosk is told of readers that are not there), for the tests that run
    beside those using the slots; `changes` maps config sections to settings."""
    # The backend's modules (uvicorn, psycopg) load here, not with this module: the demo's script
    # imports it in a kiosk's process (bench/ui.py measures one), which never runs a backend.
    from reference_backend.pki import make_test_pki
    from reference_backend.server import open_backend
    with tempfile.TemporaryDirectory(prefix="kiosk-sim-") as tmp, contextlib.ExitStack() as stack:
        folder = Path(tmp)
        pki = make_test_pki(folder / "pki")
        backend = open_backend("127.0.0.1", 0, folder / "backend.db", pki.directory).start()
        sim = None
        stack.callback(lambda: (sim.backend if sim else backend).stop())   # the one running at the end
        seed_zhang_san(backend)
        backend.store.seed_insurance(LI_SI.id_number, "employee", LI_SI_EMPLOYER)
        card = None
        if smart_cards:
            psam = VpcdLink(SimulatedPsam(), port=VPCD_PSAM_PORT).insert()
            stack.callback(_take_out, psam, PSAM_READER)
            wait_for_card(PSAM_READER, timeout=10)
            card = VpcdLink(SimulatedSocialSecurityCard(CardProfile.load("card_v3.toml")), port=VPCD_CARD_PORT)
            stack.callback(_take_out, card, CARD_READER)
        else:
            changes.setdefault("readers", {}).update(card=NO_READER, psam=NO_READER)
        made_cards = []

        def blank_card(identifier: bytes):
            made_cards.append(blank_social_security_card(identifier))
            return made_cards[-1]

        card_printer = stack.enter_context(CardPrinterSimulator(
            delay=0.0, out_dir=out / "card-faces" if out else folder / "card-faces", blank_card_factory=blank_card))
        receipts = id_reader = pin_pad = qr_scanner = None
        if serial_devices:
            png_dir = None
            if out is not None:
                png_dir = out / "receipts"
                png_dir.mkdir(parents=True, exist_ok=True)
            receipts = SimulatedReceiptPrinter(png_dir=str(png_dir) if png_dir else None)
            changes.setdefault("receipt_printer", {})["port"] = receipts.start()
            stack.callback(receipts.stop)
            id_reader = SimulatedIdCardReader(IdReaderProfile(person=None))
            changes.setdefault("id_reader", {})["port"] = id_reader.start()
            stack.callback(id_reader.stop)
            pin_pad = SimulatedPinPad(folder / "pin-pad-keys.json")
            changes.setdefault("pin_pad", {})["port"] = pin_pad.start()
            stack.callback(pin_pad.stop)
            share_pad_key(pin_pad.path, backend)
            qr_scanner = SimulatedQrScanner()
            changes.setdefault("qr_scanner", {})["port"] = qr_scanner.start()
            stack.callback(qr_scanner.stop)
        ui = changes.setdefault("ui", {})
        ui.setdefault("staff_pin_scrypt", hash_staff_pin([int(d) for d in STAFF_PIN]))
        ui.setdefault("staff_cards", staff_card_digest(CardProfile.load(STAFF_CARD_PROFILE).identifier.hex()))
        if idle_timeout_s is not None:
            ui["idle_timeout_s"] = idle_timeout_s
        config = config_for_simulation(backend.url, pki, folder, card_printer.port, **changes)
        faces = face_test_images()
        camera = SimulatedCameraProcess(faces / CAMERA_PHOTO, faces / OTHER_PERSON_PHOTO)
        sim = SimulatedKiosk(config, backend, folder, card, card_printer, receipts, id_reader, made_cards, camera,
                             pin_pad, qr_scanner)
        yield sim


# What an adult retiree's application says besides the holder (#14): the benches' and the tests'
# applicant where the details are not what they measure; collected at the demo backend's office
# when the card is not made on the spot.
APPLICATION = ApplicationDetails("13800138000", Category.RETIREE,
                                 mailing=Mailing("collect", office="聊城市社会保障卡服务中心"))


# The PIN key of the simulated pad's key set 0, and of the bank's HSM for this terminal.
PAD_PIN_KEY = b"kiosk-sim-pad-40"


def share_pad_key(pad_port: str, backend, terminal: str = "KIOSK-0001") -> None:
    """The key ceremony, both halves: the bank's key custodian loads the PIN key into the pad
    (as `kiosk pinpad load-key` does) and the bank's HSM keeps it for the terminal."""
    with PinPad(pad_port) as pad:
        pad.load_pin_key(0, PAD_PIN_KEY)
    backend.store.seed_pad_key(terminal, 0, PAD_PIN_KEY)


@contextlib.contextmanager
def running_kiosk(**options):
    """A simulated kiosk with its `KioskCore` started: (core, sim). For the benches, which run on
    their own: pcscd is used when running, or started for the block, with the machine's vpcd
    slots to ourselves."""
    with tempfile.TemporaryDirectory(prefix="kiosk-pcscd-") as tmp, pcscd_running(Path(tmp)), \
            simulated_kiosk(**options) as sim:
        core = sim.kiosk_core().start()
        try:
            yield core, sim
        finally:
            core.close()


class ReaderWaits:
    """Time spent waiting for a polled reader to notice a card come or go (pcscd polls vpcd's
    slots every 400 ms): a latency of the simulated encoder, not machine time of the kiosk.
    Counted by wrapping the waits the card printer and the issuance make."""

    def __init__(self):
        self.seconds = 0.0

    def install(self) -> "ReaderWaits":
        import drivers.card_printer
        import kiosk.services.issuance
        for module in (drivers.card_printer, kiosk.services.issuance):
            module.wait_for_card = self._timed(module.wait_for_card)
        return self

    def _timed(self, wait):
        def timed_wait(*args, **kwargs):
            start = time.perf_counter()
            try:
                return wait(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start
        return timed_wait
