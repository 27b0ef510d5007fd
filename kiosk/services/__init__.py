"""The card bundle as services: what the screens, the command line and the tests all call.

catalog.py declares every action; runner.py (`KioskServices`) runs each under one visit and
turns every failure into a result (outcomes.py); base.py is the one way work reaches the
backend. One module per item: apply_card (1.10.1), activate (1.10.2), pin (1.10.5), loss
(1.10.6), replace_card (1.10.7); issuance (立等可取) and bundles build on them; review (好差评).
"""
