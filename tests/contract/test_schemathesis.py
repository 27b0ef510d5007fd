"""Schemathesis against the reference backend (#20), as a newcomer would run it: every check,
positive and negative data, the examples, coverage, fuzzing and stateful phases, over real TLS
with the kiosk's certificate. The contract and the server must agree: it ends with no failure."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from backend_helpers import ContractClient, issue_card
from reference_backend.server import open_backend

CONTRACT = Path(__file__).resolve().parents[2] / "kiosk" / "backend" / "openapi.yaml"
CONFIG = Path(__file__).with_name("schemathesis.toml")
SEED = 20261130   # the same cases on every run; change it (or drop --seed) to explore


@pytest.fixture
def postgres_backend(postgres_db, pki_files):
    backend = open_backend("127.0.0.1", 0, postgres_db, pki_files.directory).start()
    yield backend
    backend.stop()


@pytest.mark.slow
def test_schemathesis_finds_no_failure(postgres_backend, pki_files, tmp_path):
    client = ContractClient(postgres_backend.url, ca_file=str(pki_files.ca_cert), cert_file=str(pki_files.kiosk_cert),
                            key_file=str(pki_files.kiosk_key))
    issue_card(client)   # a card and an application, for the stateful phase to start from
    client.close()
    command = [str(Path(sys.executable).with_name("schemathesis")), "--config-file", str(CONFIG), "run", str(CONTRACT),
               "--url", postgres_backend.url, "--checks", "all", "--mode", "all",
               "--phases", "examples,coverage,fuzzing,stateful", "--max-examples", "25", "--seed", str(SEED),
               "--workers", "1", "--generation-database", "none", "--no-color", "--output-sanitize", "false",
               "--tls-verify", str(pki_files.ca_cert), "--request-cert", str(pki_files.kiosk_cert),
               "--request-cert-key", str(pki_files.kiosk_key)]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    report = result.stdout + result.stderr
    assert result.returncode == 0, report[-6000:]
    assert "Tested: 34" in report, report[-3000:]   # every operation of the contract was reached
