"""An unclear result is resolved, never guessed (#16): a direct call whose answer was lost after
it reached the backend is sent again under the same Idempotency-Key, and, still unanswered, the
key stays with the request so that trying again later has no second effect."""
from __future__ import annotations

import pytest

from kiosk.backend.client import BackendClient
from kiosk.backend.errors import BackendUnavailable
from kiosk.core import KioskCore
from kiosk.services.outcomes import UNCONFIRMED
from kiosk.visit import CitizenIdentity
from simulation.config import config_for_simulation
from simulation.stack import ZHANG_SAN, ZHANG_SAN_CARD_ID, seed_zhang_san

HOLDER = CitizenIdentity.from_id_document(ZHANG_SAN)


@pytest.fixture
def kiosk(reference_backend, pki_files, tmp_path):
    core = KioskCore(config_for_simulation(reference_backend.url, pki_files, tmp_path)).start()
    yield core
    core.close()


def losing_answers(monkeypatch, how_many: int) -> list[str]:
    """The next `how_many` requests reach the backend and take effect; their answers are lost.
    Returns the Idempotency-Keys sent, in order."""
    keys, real = [], BackendClient._request

    def request(self, method, path, headers, data):
        keys.append(headers.get("Idempotency-Key"))
        answer = real(self, method, path, headers, data)
        if len(keys) <= how_many:
            raise BackendUnavailable("reply cut short (the link dropped)")
        return answer
    monkeypatch.setattr(BackendClient, "_request", request)
    return keys


def loss_events(backend) -> list[str]:
    with backend.store._transaction() as conn:
        return [row[0] for row in conn.execute("SELECT event FROM card_events WHERE card_id = ?",
                                               (ZHANG_SAN_CARD_ID,))]


def test_a_lost_answer_is_asked_again_under_the_same_key_and_the_effect_is_one(kiosk, reference_backend,
                                                                               monkeypatch):
    seed_zhang_san(reference_backend)
    keys = losing_answers(monkeypatch, 1)
    visit = kiosk.services.new_visit()
    visit.identify(HOLDER)
    visit.assure("face", {"score": 0.3})   # as after a face check that matched
    [result] = kiosk.services.report_loss(visit, "formal")
    assert result.outcome == "done", result
    person_loss_keys = [key for key in keys if key]
    assert len(person_loss_keys) == 2 and len(set(person_loss_keys)) == 1
    assert loss_events(reference_backend).count("loss_reported_formal") == 1


def test_still_unanswered_the_key_waits_for_the_same_request_and_the_retry_replays(kiosk, reference_backend,
                                                                                  monkeypatch):
    seed_zhang_san(reference_backend)
    keys = losing_answers(monkeypatch, 3)
    visit = kiosk.services.new_visit()
    visit.identify(HOLDER)
    visit.assure("face", {"score": 0.3})   # as after a face check that matched
    [unclear] = kiosk.services.report_loss(visit, "formal")
    # Not "done", and not the offline refusal either: it may have happened (#16).
    assert unclear.outcome == "failed" and unclear.citizen_message == UNCONFIRMED, unclear
    assert "需联网" not in unclear.citizen_message
    assert loss_events(reference_backend).count("loss_reported_formal") == 1   # it did take effect
    [again] = kiosk.services.report_loss(visit, "formal")   # the citizen tries again
    assert again.outcome == "done", again
    sent = [key for key in keys if key]
    assert len(sent) == 4 and len(set(sent)) == 1            # one key for the one request
    assert loss_events(reference_backend).count("loss_reported_formal") == 1   # and one effect


def test_a_request_that_never_left_is_not_sent_again(kiosk, reference_backend, monkeypatch):
    sent = []

    def never_connects(self, method, path, headers, data):
        sent.append(path)
        raise BackendUnavailable("backend not reachable", link_down=True, sent=False)
    monkeypatch.setattr(BackendClient, "_request", never_connects)
    visit = kiosk.services.new_visit()
    visit.identify(HOLDER)
    visit.assure("face", {"score": 0.3})   # as after a face check that matched
    [refused] = kiosk.services.report_loss(visit, "formal")
    assert refused.outcome == "refused" and len([p for p in sent if "loss" in p]) == 1
