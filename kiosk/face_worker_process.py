"""The face worker's process (`python -m kiosk.face_worker_process FD`): the other end of
kiosk/face_worker.py's FaceWorker, which starts it. Answers each request with the models of
kiosk/face_check.py (the face check) or kiosk/photo_capture.py (a card photo), loaded on
first use; keeps no frame between requests; ends when the kiosk's end of the pipe closes."""
from __future__ import annotations

import logging
import sys
from multiprocessing.connection import Connection

from drivers.process_link import serve


def _handlers() -> dict:
    """The requests, each loading its models on first use (a photo capture needs the 68-point
    landmarks, not the embedding)."""
    from kiosk import face_check, photo_capture
    engine = []

    def local():
        if not engine:
            engine.append(face_check.LocalFaceEngine())
        return engine[0]
    return {"analyse": lambda *args: local().analyse(*args), "embedding": lambda *args: local().embedding(*args),
            "embedding_of_photo": lambda *args: local().embedding_of_photo(*args),
            "make_photo": photo_capture.make_photo}


def main() -> int:
    from kiosk.process import forbid_core_dumps
    forbid_core_dumps()
    logging.basicConfig(level=logging.WARNING, format="face worker: %(levelname)s %(message)s")
    conn = Connection(int(sys.argv[1]))
    try:
        handlers = _handlers()
        return serve(conn, lambda kind, *args: handlers[kind](*args))
    except (KeyboardInterrupt, BrokenPipeError, ConnectionResetError):
        return 0
    finally:
        conn.close()


if __name__ == "__main__":
    sys.exit(main())
