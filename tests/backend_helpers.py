"""Helpers shared by the backend tests (named so as not to clash with other test folders)."""
from __future__ import annotations

import itertools
import uuid

from kiosk.backend.client import BackendClient

_serial = itertools.count(1)


def client_for(url: str, pki, **options) -> BackendClient:
    return BackendClient(url, ca_file=pki.ca_cert, cert_file=pki.kiosk_cert, key_file=pki.kiosk_key, **options)


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
