"""The simulated kiosk: every device simulator and the reference backend assembled once
(`stack.py`), the settings that point a kiosk at them (`config.py`), the scripted demo
(`demo.py`), the simulator panel (`panel.py`) and their commands (`kiosk demo`, `kiosk sim`).

Used by `./run demo`, the benches and the tests; never imported by `kiosk run`.
"""
