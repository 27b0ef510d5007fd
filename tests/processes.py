"""What tests of the kiosk's helper processes ask of a process (the face worker, the camera's)."""
import os


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
