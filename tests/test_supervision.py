"""sd_notify messages reach systemd's socket; nothing is sent outside systemd."""
import socket

from kiosk.supervision import notify


def test_notify_sends_to_the_socket_systemd_names(tmp_path, monkeypatch):
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(str(path))
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        assert notify("WATCHDOG=1")
        assert listener.recv(64) == b"WATCHDOG=1"


def test_without_systemd_nothing_is_sent(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert not notify("READY=1")


def test_the_process_can_make_itself_non_dumpable():
    import subprocess
    import sys
    code = ("from kiosk.supervision import forbid_core_dumps; forbid_core_dumps();"
            "import ctypes; print(ctypes.CDLL(None).prctl(3, 0, 0, 0, 0))")  # 3 = PR_GET_DUMPABLE
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert result.stdout.strip() == "0", result.stderr
