"""The reference backend: the contract of kiosk/backend/openapi.yaml served over HTTPS with
client certificates (`server.py`), its store (`store.py`), a test PKI (`pki.py`) and its
commands (`kiosk backend serve|certs|seed`, `cli.py`). What the demo, the tests and the benches
talk to, and what an office pilots before its own system is wired in; never imported by the
kiosk itself."""
