"""Living under systemd: readiness and watchdog notifications (sd_notify).

The unit (deploy/sscard-kiosk.service) is Type=notify with WatchdogSec: the kiosk says
READY=1 once its window is up and WATCHDOG=1 from the UI thread's clock, so a hung UI stops
the pings and systemd restarts it.
"""
from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger(__name__)


def notify(message: str) -> bool:
    """Sends one sd_notify message; False (and nothing sent) outside systemd."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]  # an abstract socket
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(message.encode("ascii"))
    except OSError as exc:
        log.warning("systemd notification %r not sent: %s", message, exc)
        return False
    return True
