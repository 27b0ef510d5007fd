"""Card profiles are the simulator's input files (tests, demos, staff trying a card shape): any
document gives a CardProfile the simulated card can serve, or a ProfileError saying why."""
from __future__ import annotations

import tomllib

import pytest
from hypothesis import given, strategies as st

from drivers.sim.vpcd import CardPulledOut
from drivers.sim.ssse_card import PROFILE_DIR, CardProfile, ProfileError, SimulatedSocialSecurityCard

SHIPPED = tomllib.loads((PROFILE_DIR / "card_v3.toml").read_text(encoding="utf-8"))
scalars = st.one_of(st.booleans(), st.integers(-300, 300), st.text(max_size=40),
                    st.binary(max_size=20).map(bytes.hex), st.lists(st.integers(), max_size=2))


def mutated(data):
    """The shipped v3 profile with some of its keys (or whole sections) replaced by anything."""
    document = {section: dict(values) if isinstance(values, dict) else values
                for section, values in SHIPPED.items()}
    for _ in range(data.draw(st.integers(1, 4), label="changes")):
        section = data.draw(st.sampled_from(sorted(document) + ["raw_records", "pin", "behaviour", "keys"]),
                            label="section")
        if data.draw(st.booleans(), label="whole section"):
            document[section] = data.draw(scalars, label="section value")
            continue
        values = document.get(section)
        if not isinstance(values, dict):
            values = document[section] = {}
        keys = sorted(values) + ["EF05.2", "EF06.9", "value", "tries_left", "pull_out_after_apdus", "x"]
        values[data.draw(st.sampled_from(keys), label="key")] = data.draw(scalars, label="value")
    return document


@given(st.data())
def test_any_profile_document_loads_or_is_a_profile_error(data):
    try:
        profile = CardProfile.from_dict(mutated(data))
    except ProfileError as error:
        assert str(error)
        return
    # A profile that loads must give a card that powers on and answers with a status word.
    card = SimulatedSocialSecurityCard(profile)
    card.power_on()
    select = bytes.fromhex("00A404000F7378312E73682EC9E7BBE1B1A3D5CF")
    if profile.pull_out_after_apdus == 0:
        with pytest.raises(CardPulledOut):  # the fault the profile asked for, at the first APDU
            card.process_apdu(select)
    else:
        assert len(card.process_apdu(select)) >= 2
