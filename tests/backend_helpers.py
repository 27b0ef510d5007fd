"""Helpers shared by the tests that talk to the reference backend (named so as not to clash
with other test folders): the contract's client, fresh holders and keys, a kiosk's config file."""
from __future__ import annotations

import dataclasses
import itertools
import uuid
from pathlib import Path

from drivers.sim.camera import face_test_images
from kiosk.backend.client import BackendClient
from simulation.stack import APPLICATION, REGISTERED_PHOTO, registry_photo

_serial = itertools.count(1)


class ContractClient(BackendClient):
    """The kiosk's client with the contract's operations as methods, so that the tests read as
    the contract does (the kiosk itself calls them by operation name through `call`)."""

    def open_visit(self, id_number: str) -> str:
        return self.call("open_visit", {"id_number": id_number})["visit_token"]

    def query_person(self, id_number: str, visit_token: str | None = None) -> dict:
        """Within `visit_token`, or a visit opened for the person just now."""
        token = visit_token or self.open_visit(id_number)
        return self.call("query_person", {"id_number": id_number, "visit_token": token})

    def card_status(self, card_id: str) -> dict:
        return self.call("card_status", {"card_id": card_id})

    def apply_card(self, holder: dict, region_code: str, *, channel: str = "instant", commitment: bool = True,
                   application: dict | None = None, idempotency_key: str) -> dict:
        application = application or sample_application(channel)
        return self.call("apply_card", {"holder": holder, "region_code": region_code, "channel": channel,
                                        "commitment": commitment, "application": application},
                         idempotency_key=idempotency_key)

    def mark_instant_issuance(self, application_id: str, *, idempotency_key: str) -> dict:
        return self.call("mark_instant_issuance", {"application_id": application_id}, idempotency_key=idempotency_key)

    def cancel_instant_issuance(self, application_id: str, reason: str, *, idempotency_key: str) -> dict:
        return self.call("cancel_instant_issuance", {"application_id": application_id, "reason": reason},
                         idempotency_key=idempotency_key)

    def personalisation(self, application_id: str) -> dict:
        return self.call("personalisation", {"application_id": application_id})

    def report_written_card(self, application_id: str, card_id: str, card_number: str, *,
                            idempotency_key: str) -> dict:
        return self.call("report_written_card", {"application_id": application_id, "card_id": card_id,
                                                 "card_number": card_number}, idempotency_key=idempotency_key)

    def activate_card(self, card_id: str, *, idempotency_key: str) -> dict:
        return self.call("activate_card", {"card_id": card_id}, idempotency_key=idempotency_key)

    def record_pin_event(self, card_id: str, event: str, at: str, *, idempotency_key: str) -> dict:
        return self.call("record_pin_event", {"card_id": card_id, "event": event, "at": at},
                         idempotency_key=idempotency_key)

    def report_loss(self, card_id: str, kind: str, *, idempotency_key: str) -> dict:
        return self.call("report_loss", {"card_id": card_id, "kind": kind}, idempotency_key=idempotency_key)

    def report_person_loss(self, id_number: str, kind: str, *, idempotency_key: str) -> dict:
        return self.call("report_person_loss", {"id_number": id_number, "kind": kind},
                         idempotency_key=idempotency_key)

    def cancel_loss_report(self, card_id: str, *, idempotency_key: str) -> dict:
        return self.call("cancel_loss_report", {"card_id": card_id}, idempotency_key=idempotency_key)

    def apply_replacement(self, card_id: str, reason: str, *, channel: str = "instant", commitment: bool = True,
                          idempotency_key: str) -> dict:
        return self.call("apply_replacement", {"card_id": card_id, "reason": reason, "channel": channel,
                                               "commitment": commitment}, idempotency_key=idempotency_key)

    def submit_review(self, service_item: str, level: int, comment: str = "", *, idempotency_key: str) -> dict:
        return self.call("submit_review", {"service_item": service_item, "level": level, "comment": comment},
                         idempotency_key=idempotency_key)


def client_for(url: str, pki, **options) -> ContractClient:
    return ContractClient(url, ca_file=pki.ca_cert, cert_file=pki.kiosk_cert, key_file=pki.kiosk_key, **options)


# What the tests that are not about an application's details send (#14), with the photo taken at
# the kiosk: no card is made on the spot without its holder's photo.
SAMPLE_APPLICATION = dataclasses.replace(APPLICATION, photo=registry_photo(face_test_images() / REGISTERED_PHOTO))


def sample_application(channel: str = "instant") -> dict:
    application = {"phone": SAMPLE_APPLICATION.phone, "category": str(SAMPLE_APPLICATION.category)}
    return application if channel == "instant" else {**application, "mailing": SAMPLE_APPLICATION.mailing.payload()}


def key() -> str:
    return str(uuid.uuid4())


def new_holder() -> dict:
    """A person the backend has not seen: a fresh ID number per call."""
    return {"id_number": f"37130219800101{next(_serial):03d}X", "name": "张三", "sex": "1", "ethnicity": 1,
            "birth_date": "19800101", "birthplace": "371302"}


def new_card_id() -> str:
    return f"371300D156000005{uuid.uuid4().hex[:16].upper()}"


def issue_card(client: BackendClient, *, activate: bool = True) -> str:
    """A card through the whole instant issuance (apply, mark, 回盘, activate); its card id."""
    application = client.apply_card(new_holder(), "371300", idempotency_key=key())
    marked = client.mark_instant_issuance(application["application_id"], idempotency_key=key())
    card_id = new_card_id()
    client.report_written_card(application["application_id"], card_id, marked["card_number"], idempotency_key=key())
    if activate:
        client.activate_card(card_id, idempotency_key=key())
    return card_id


def kiosk_config_file(folder: Path, backend, pki_files, card_printer_port: int | None, *, id_reader_port: str = "",
                      pin_pad_port: str = "", delivery_wait_s: float = 2.0, name: str = "kiosk") -> Path:
    """A deployed kiosk's configuration file on the simulated stack, as the commands read it:
    its database and key ring in `folder`, its audit secret kept apart (folder/etc), the file
    private to its owner (the kiosk refuses one others can read)."""
    path = folder / f"{name}.toml"
    secrets_dir = folder / "etc"
    secrets_dir.mkdir(exist_ok=True)
    id_reader = f'[id_reader]\nport = "{id_reader_port}"\n' if id_reader_port else ""
    pin_pad = f'[pin_pad]\nport = "{pin_pad_port}"\n' if pin_pad_port else ""
    path.write_text(f"""
[backend]
url = "{backend.url}"
ca_file = "{pki_files.ca_cert}"
cert_file = "{pki_files.kiosk_cert}"
key_file = "{pki_files.kiosk_key}"
connect_timeout_s = 1.0
[outbox]
db = "{folder / f'{name}.db'}"
key_file = "{folder / f'{name}.key'}"
audit_secret_file = "{secrets_dir / 'audit.secret'}"
delivery_wait_s = {delivery_wait_s}
reconnect_spread_s = 0
[card_printer]
{f"port = {card_printer_port}" if card_printer_port else "enabled = false"}
{id_reader}{pin_pad}""", encoding="utf-8")
    path.chmod(0o600)
    return path
