"""Signed updates (#18) against a local TUF repository served over HTTPS and copied to a "USB
stick": a signed release is installed into the other slot and switched to; an unsigned or
wrongly signed release, metadata older than seen (rollback), expired metadata (freeze), a release
of the wrong length, a tampered stick and a signed but older release are refused and change
nothing; a release failing its health check after the restart is switched back at once (and the
kiosk restarted again) and not installed again; staff may switch back, and the kiosk restarts
onto the release."""
from __future__ import annotations

import dataclasses
import datetime
import functools
import http.server
import json
import os
import ssl
import threading
from pathlib import Path

import pytest

from kiosk.cli import main
from kiosk.config import KioskConfig
from kiosk.update import TARGET, UpdateManager, UpdateRefused, UpdateSource, UpdateUnavailable
from tests.update_repository import Repository


@pytest.fixture
def repo(tmp_path):
    return Repository(tmp_path / "repo")


@pytest.fixture
def settings(tmp_path, repo):
    root = tmp_path / "trusted-root.json"
    root.write_bytes(repo.trusted_root())
    restart = tmp_path / "restart"   # stands for systemctl: notes each restart and onto which release
    restart.write_text('#!/bin/sh\nreadlink current >> "$0.log"\n')
    restart.chmod(0o755)
    return KioskConfig().changed(update={"trusted_root": str(root), "root": str(tmp_path / "opt"),
                                         "state_dir": str(tmp_path / "state"), "health_check_timeout_s": 10.0,
                                         "restart_command": str(restart)}).update


def restarts(settings) -> list[str]:
    log = Path(settings.restart_command + ".log")
    return log.read_text().split() if log.exists() else []


@pytest.fixture
def manager(settings):
    os.makedirs(settings.root, exist_ok=True)
    return UpdateManager(settings)


@pytest.fixture
def https(repo, pki_files, monkeypatch):
    """The repository on a loopback HTTPS server (the province's, in miniature)."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(repo.folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki_files.server_cert, pki_files.server_key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("SSL_CERT_FILE", str(pki_files.ca_cert))   # urllib3 trusts the test CA
    yield UpdateSource.https(f"https://127.0.0.1:{server.server_address[1]}")
    server.shutdown()
    server.server_close()


def current_version(manager) -> str:
    return manager.installed_version()


def test_a_signed_release_is_installed_in_the_other_slot_and_switched_to(repo, manager, https):
    repo.add_release("9.1.0")
    release = manager.check(https)
    assert release.version == "9.1.0"
    state = manager.apply(https)
    assert state["state"] == "updated" and state["version"] == "9.1.0" and manager.slots.current() == "a"
    assert os.readlink(manager.slots.current_link) == "releases/a" and (manager.slots.path("a") / "installed").exists()
    assert manager.check(https) is None   # up to date now
    repo.add_release("9.2.0")
    assert manager.apply(https)["state"] == "updated" and manager.slots.current() == "b"
    assert current_version(manager) == "9.2.0"


def test_a_release_failing_its_health_check_is_switched_back_at_once(repo, manager, https):
    repo.add_release("9.1.0")
    manager.apply(https)
    repo.add_release("9.2.0", healthy=False)
    state = manager.apply(https)
    assert state["state"] == "rolled_back" and state["offered"] == "9.2.0"
    assert "cannot open the card reader" in state["detail"]
    assert manager.slots.current() == "a" and current_version(manager) == "9.1.0"
    assert manager.state()["state"] == "rolled_back"
    assert restarts(manager.settings) == ["releases/a", "releases/b", "releases/a"]   # onto it, and back
    # Staff see it in diagnostics.
    from kiosk.diagnostics import software_update
    assert software_update(KioskConfig(update=manager.settings)) == "9.1.0；更新：新版本健康检查未通过，已自动回退（9.2.0）"


def test_a_release_that_failed_its_health_check_is_not_installed_again(repo, manager, https, caplog):
    repo.add_release("9.1.0")
    manager.apply(https)
    repo.add_release("9.2.0", healthy=False)
    manager.apply(https)
    assert manager.check(https).rolled_back
    for _night in range(2):   # the nightly timer: the state keeps what was rolled back
        state = manager.apply(https)
        assert (state["state"], state["version"], state["offered"]) == ("skipped", "9.1.0", "9.2.0")
    assert "release 9.2.0 was rolled back on this kiosk; not installed again" in caplog.text
    assert manager.slots.current() == "a" and restarts(manager.settings) == ["releases/a", "releases/b", "releases/a"]
    from kiosk.diagnostics import software_update
    assert software_update(KioskConfig(update=manager.settings)) == "9.1.0；更新：该版本曾在本机回退，不再安装（9.2.0）"
    repo.add_release("9.3.0")   # the province's fix
    assert not manager.check(https).rolled_back
    assert manager.apply(https)["state"] == "updated" and current_version(manager) == "9.3.0"


def test_a_release_that_does_not_install_is_never_switched_to(repo, manager, https):
    repo.add_release("9.1.0")
    manager.apply(https)
    repo.add_release("9.2.0", installs=False)
    state = manager.apply(https)
    assert state["state"] == "failed" and "no room" in state["detail"] and manager.slots.current() == "a"


def test_staff_switch_back_to_the_previous_release_and_the_kiosk_restarts_onto_it(repo, manager, https):
    repo.add_release("9.1.0")
    manager.apply(https)
    repo.add_release("9.2.0")
    manager.apply(https)
    state = manager.rollback()
    assert state["version"] == "9.1.0" and "detail" not in state and manager.slots.current() == "a"
    assert restarts(manager.settings) == ["releases/a", "releases/b", "releases/a"]
    assert manager.apply(https)["state"] == "skipped" and manager.slots.current() == "a"   # not the release left


def test_a_staff_switch_back_whose_restart_fails_says_so(repo, manager, https):
    repo.add_release("9.1.0")
    manager.apply(https)
    repo.add_release("9.2.0")
    manager.apply(https)
    stuck = UpdateManager(dataclasses.replace(manager.settings, restart_command="false"))
    state = stuck.rollback()
    assert state["state"] == "rolled_back_by_staff" and state["detail"] == "the restart failed: exit 1: "
    assert stuck.slots.current() == "a"   # switched all the same: the next restart runs it


def refused(manager, source, match: str) -> None:
    before = (manager.slots.current(), sorted(os.listdir(manager.slots.root)))
    with pytest.raises(UpdateRefused, match=match):
        manager.apply(source)
    assert (manager.slots.current(), sorted(os.listdir(manager.slots.root))) == before
    assert manager.state()["state"] == "refused"


def test_a_release_not_in_the_signed_metadata_is_refused(repo, manager, https):
    (repo.targets_dir / TARGET).write_bytes(b"not signed by anyone")
    refused(manager, https, "lists no")
    # Listed in targets.json by hand, without the targets key's signature.
    repo.add_release("9.1.0")
    targets = json.loads((repo.metadata / "targets.json").read_text())
    targets["signed"]["targets"][TARGET]["custom"]["version"] = "9.9.9"
    (repo.metadata / "targets.json").write_text(json.dumps(targets))
    refused(manager, https, "Length|Hash|signature|Unsigned")


def test_metadata_signed_with_a_key_the_root_does_not_trust_is_refused(repo, manager, https):
    from securesystemslib.signer import CryptoSigner
    repo.targets.signed.targets.clear()
    repo.add_release("9.1.0")
    repo.publish(signer_of={"targets": CryptoSigner.generate_ed25519()})
    refused(manager, https, "Unsigned|signature")


def test_older_metadata_than_seen_is_refused_rollback(repo, manager, https):
    repo.add_release("9.1.0")
    old_timestamp = (repo.metadata / "timestamp.json").read_bytes()
    old_snapshot = (repo.metadata / "snapshot.json").read_bytes()
    repo.publish()
    assert manager.check(https).version == "9.1.0"   # the kiosk has seen the newer metadata
    (repo.metadata / "timestamp.json").write_bytes(old_timestamp)
    (repo.metadata / "snapshot.json").write_bytes(old_snapshot)
    refused(manager, https, "BadVersionNumber|version")


def test_a_signed_but_older_release_is_refused(repo, manager, https):
    repo.add_release("9.2.0")
    manager.apply(https)
    repo.add_release("9.1.0")
    refused(manager, https, "older than the installed 9.2.0")


def test_expired_metadata_is_refused_freeze(repo, manager, https):
    repo.add_release("9.1.0")
    repo.publish(timestamp_expires=datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1))
    refused(manager, https, "Expired")


def test_a_release_of_another_length_than_signed_is_refused(repo, manager, https):
    data = repo.add_release("9.1.0")
    (repo.targets_dir / TARGET).write_bytes(data + b"\0" * 100)
    refused(manager, https, "length|Length")


def test_a_tampered_usb_stick_is_refused_and_a_good_one_installs(repo, manager, tmp_path):
    repo.add_release("9.1.0")
    stick = repo.copy_to(tmp_path / "stick")
    target = stick / "targets" / TARGET
    good = target.read_bytes()
    target.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))   # one bit, the same length
    refused(manager, UpdateSource.usb(stick), "hash|Hash")
    target.write_bytes(good)
    assert manager.apply(UpdateSource.usb(stick))["state"] == "updated"


def test_no_repository_on_the_stick_or_no_network_is_unavailable(manager, tmp_path):
    with pytest.raises(UpdateUnavailable, match="no update repository"):
        UpdateSource.usb(tmp_path / "empty")
    with pytest.raises(UpdateUnavailable):
        manager.check(UpdateSource.https("https://127.0.0.1:9"))


def test_kiosk_update_commands(repo, settings, tmp_path, capsys):
    repo.add_release("9.1.0")
    stick = repo.copy_to(tmp_path / "stick")
    config = tmp_path / "kiosk.toml"
    config.write_text("[update]\n" + "".join(f'{key} = "{getattr(settings, key)}"\n'
                                             for key in ("trusted_root", "root", "state_dir", "restart_command")))
    os.chmod(config, 0o600)
    os.makedirs(settings.root, exist_ok=True)
    assert main(["--config", str(config), "update", "check", "--usb", str(stick)]) == 0
    assert "9.1.0" in capsys.readouterr().out
    assert main(["--config", str(config), "update", "apply", "--usb", str(stick)]) == 0
    assert "updated" in capsys.readouterr().out
    assert main(["--config", str(config), "update", "status"]) == 0
    assert "9.1.0" in capsys.readouterr().out
    assert main(["--config", str(config), "update", "rollback"]) == 1   # nothing before it
    repo.add_release("9.2.0")
    assert main(["--config", str(config), "update", "apply", "--usb", str(repo.copy_to(tmp_path / "stick-2"))]) == 0
    capsys.readouterr()
    assert main(["--config", str(config), "update", "rollback"]) == 0
    assert "switched back to 9.1.0" in capsys.readouterr().out
    assert main(["--config", str(config), "update", "check", "--usb", str(tmp_path / "stick-2")]) == 0
    assert "release 9.2.0 offered, but it was rolled back on this kiosk" in capsys.readouterr().out
    assert main(["--config", str(config), "update", "apply", "--usb", str(tmp_path / "stick-2")]) == 0
    assert "not installed again (rolled back here); still 9.1.0 (offered 9.2.0)" in capsys.readouterr().out
    config.write_text(config.read_text().replace(settings.restart_command, "false"))
    assert main(["--config", str(config), "update", "rollback"]) == 1   # switched, the kiosk not restarted
    assert "the restart failed" in capsys.readouterr().out
