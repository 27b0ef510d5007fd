"""sd_notify messages reach systemd's socket; nothing is sent outside systemd."""
import socket

from kiosk.systemd import notify


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
    code = ("from kiosk.process import forbid_core_dumps; forbid_core_dumps();"
            "import ctypes; print(ctypes.CDLL(None).prctl(3, 0, 0, 0, 0))")  # 3 = PR_GET_DUMPABLE
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert result.stdout.strip() == "0", result.stderr


def test_memory_a_visit_freed_goes_back_to_the_system():
    from kiosk.process import return_free_memory

    def rss_mb() -> float:
        status = open("/proc/self/status").read()
        return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS"))) / 1024

    blocks = [bytearray(1000) for _ in range(200_000)]   # ~200 MB in small heap blocks
    survivors = blocks[::1000]   # a few stay, so the heap cannot simply shrink from its top
    del blocks
    before = rss_mb()
    return_free_memory()
    assert before - rss_mb() > 100, "freed heap pages stayed with the process"
    assert len(survivors) == 200
