"""Config and key files that others can read or change are refused with the file's role, path,
reason and fix; the modes a deployment uses pass."""
from __future__ import annotations

import os

import pytest

from kiosk.file_safety import UnsafeFileError, refuse_if_readable_by_others, refuse_unless_private


def a_file(tmp_path, mode: int):
    path = tmp_path / "secret"
    path.write_text("x")
    os.chmod(path, mode)
    return path


@pytest.mark.parametrize("mode", [0o600, 0o400, 0o640, 0o440])
def test_modes_a_deployment_uses_pass_for_the_config(tmp_path, mode):
    refuse_if_readable_by_others(a_file(tmp_path, mode), "config")


@pytest.mark.parametrize("mode, reason", [(0o644, "open to other users"), (0o604, "open to other users"),
                                          (0o601, "open to other users"), (0o660, "writable by its group")])
def test_config_open_to_others_is_refused(tmp_path, mode, reason):
    path = a_file(tmp_path, mode)
    with pytest.raises(UnsafeFileError, match=reason) as caught:
        refuse_if_readable_by_others(path, "config")
    assert caught.value.what == "config" and caught.value.path == str(path)
    assert f"{mode:04o}" in str(caught.value) and "chmod" in str(caught.value)


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_private_keys_pass(tmp_path, mode):
    refuse_unless_private(a_file(tmp_path, mode), "[backend] key_file")


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660])
def test_keys_readable_by_anyone_else_are_refused(tmp_path, mode):
    with pytest.raises(UnsafeFileError, match=r"\[outbox\] key_file .* readable by other users") as caught:
        refuse_unless_private(a_file(tmp_path, mode), "[outbox] key_file")
    assert "chmod 600" in str(caught.value)


def test_a_symlink_is_judged_by_the_file_it_points_to(tmp_path):
    target = a_file(tmp_path, 0o644)
    link = tmp_path / "link"
    link.symlink_to(target)
    with pytest.raises(UnsafeFileError, match="other users"):
        refuse_unless_private(link, "key")


def test_missing_and_non_regular_files_are_refused(tmp_path):
    with pytest.raises(UnsafeFileError, match="does not exist"):
        refuse_unless_private(tmp_path / "nothing", "key")
    with pytest.raises(UnsafeFileError, match="not a regular file"):
        refuse_if_readable_by_others(tmp_path, "config")


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_a_file_owned_by_another_user_is_refused(tmp_path):
    path = a_file(tmp_path, 0o600)
    os.chown(path, 65534, 65534)  # nobody
    with pytest.raises(UnsafeFileError, match="belongs to user id 65534"):
        refuse_unless_private(path, "key")


def test_the_outbox_key_ring_the_kiosk_creates_passes(tmp_path):
    from offline_queue import KeyRing
    KeyRing.load_or_create(tmp_path / "kiosk.key")
    refuse_unless_private(tmp_path / "kiosk.key", "[outbox] key_file")


def test_the_test_pki_keys_pass(pki_files):
    refuse_unless_private(pki_files.kiosk_key, "[backend] key_file")
