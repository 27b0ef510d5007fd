"""Touchscreen bench: cold start to an interactive home screen (s), resident memory after the
demo's scripted visits (MB), and CPU use while idle on the home screen (% of one core).

Run from the repo root: `.venv/bin/python bench/ui.py` (or `./run bench ui`). It starts Xvfb
when there is no display, and pcscd with vpcd under the machine lock ./run takes.

Two processes, as on a kiosk where the devices and the backend are other machines:

- this one (not measured) hosts what a real kiosk does not run: the reference backend, the
  card and PSAM on vpcd, the card printer, receipt printer and ID reader simulators (the demo's
  `simulated_kiosk`), and takes every measurement from outside, in /proc/PID;
- the measured child is `KioskCore` and `KioskApp` as `kiosk run` builds them, with the demo's
  configuration for those simulators and the simulated camera (a kiosk's camera is its own
  device), and the demo's scripted visits (bundle with a face check and a card made, PIN
  change, a staff-assisted application, the e-SSC code, a PIN change in English, offline loss
  report, elder mode left to time out, diagnostics) played through the real screens by touch events, exactly as `kiosk demo` plays them. What the
  script does to the devices (lay the ID card down, insert or take out the card, stop the
  backend) goes to this process over a socket pair, one message a step. The child takes no
  screenshots (a kiosk takes none); the demo's script module and the simulator modules it
  imports (about 3 MB, no objects or threads of theirs) are in it (not pytest: the demo's
  `Finger` is its own, where Kivy's UnitTestTouch would import it); so are the two faces the
  simulated camera shows (about 2 MB), found once and handed to each of its processes.

The face models (dlib's detector, landmarks and ResNet embedding; the 68-point model for a
photo) never enter the child: they run in the face worker (kiosk/face_worker.py), a process
the kiosk starts for a check or a photo and stops when the check has passed, the capture or the
visit is over. The camera, real or simulated, runs in a process of its own too
(drivers/camera_process.py), started on a read and ended when the camera is closed. The
memory figure counts both with the child whenever they run (when it is taken, neither should);
the figure with the face models is taken while they run. The simulated camera finds its
faces' landmarks in a short-lived process of its own (a real camera runs no face model).

The outbox's timings are the deployed defaults (poll 2 s, link probe 5 s), not the demo's
quick ones; everything else is the demo's configuration. The window is 1280x800 under Xvfb,
rendered by Mesa's software renderer (llvmpipe), as in every bench and test here: a kiosk
with a GPU keeps its framebuffers and textures out of the process, so the memory figure
includes what software rendering costs (a bare Kivy window is about 160 MB here; the Mesa
libraries' pages are reported on their own). Where the memory goes (smaps and a timeline of the
child's RSS step by step, taken at 269 MB, before the demo's English visit and #17's screens,
which brought it to 294 MB): 79 MB after Python's, the kiosk's and the
script's imports; 203 MB on the home screen before any visit (Kivy, SDL, Mesa's llvmpipe with
its 62 MB of library pages, every screen's widgets and label textures); the first face check
adds about 33 MB (OpenCV, 16 MB, which the real camera driver needs too; the simulated camera's
state; the preview), the other visits together about 25 MB (label textures of screens shown,
Python objects). The C heap at the end (measured once with Debian's heaptrack, the child run
under it and ended where the figure is taken): Mesa 22 MB (window, textures, shaders), Kivy's text 23 MB (13 MB of
it the SDL surfaces labels were drawn on, since let go: screens/fonts.py; the fonts opened per
size, since fewer: screens/theme.py), Python's larger objects 18 MB, numpy 5 MB (the simulated
camera's frames).

- cold start: from starting the child process to the first frame drawn (Window on_flip) with
  the home screen current and no transition running. Python, Kivy, the kiosk core (outbox,
  audit, card watcher) and every screen are included; nothing is subtracted.
- memory: the child's VmRSS right after the last visit ended (home screen shown again), with
  its face worker's and camera process's if one still runs; the peak (VmHWM) and the RSS after
  the idle samples are printed too.
- memory with the face models loaded (#13): the child's VmRSS, its face worker's and its camera
  process's taken together, sampled every 0.2 s and at each step while a worker runs; the highest sum over the
  visits, for a face check and for a card photo apart (the photo's 68-point landmarks are the
  larger model). The child tells the parent which one it asks the worker for.
- idle CPU: the child's utime + stime (every thread: UI clock, card watcher and reader
  supervisor, outbox worker, link probe, heartbeat, Mesa's threads) over IDLE_SAMPLE_S wall
  seconds on the home screen, twice: first with the backend still down after the offline visit
  (the kiosk probing for its link), then after the backend is back and the queued loss report
  was delivered. Sampling starts SETTLE_S after the previous step; the child runs no bench code
  while it is sampled. `idle_cpu_pct` is the higher of the two.

Last line, JSON: {"cold_start_s": X, "rss_mb": X, "rss_with_face_check_models_mb": X,
"rss_with_photo_models_mb": X, "idle_cpu_pct": X, "idle_cpu_offline_pct": X, "idle_cpu_online_pct": X}
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path

IDLE_SAMPLE_S = 30.0
SETTLE_S = 1.0
CHILD_TIMEOUT_S = 300
ROOT = Path(__file__).resolve().parents[1]
MESA_LIBRARIES = re.compile(r"/(libLLVM|libgallium|swrast_dri|[a-z0-9_]+_dri\.so|libGLX_mesa|libglapi|libEGL_mesa)")


# --- the measured child: the kiosk ---------------------------------------------------------

class _Device:
    """A simulator in the bench's parent process: `card.insert()` asks the parent to do it."""

    def __init__(self, call, name: str):
        self._call = call
        self._name = name

    def __getattr__(self, method: str):
        return lambda *args, **kwargs: self._call("call", f"{self._name}.{method}", args, kwargs)


class _ParentLink:
    """The child's end of the control channel: the devices the demo's script touches (`sim.card`,
    `sim.id_reader`, `sim.backend`, the printers' supplies) and the bench's own messages. One
    request, one reply."""

    def __init__(self, conn: Connection):
        self._conn = conn
        self._lock = threading.Lock()
        self.card = _Device(self.ask, "card")
        self.id_reader = _Device(self.ask, "id_reader")
        self.backend = _Device(self.ask, "backend")
        self.receipt_printer = _Device(self.ask, "receipt_printer")
        self.card_printer = _Device(self.ask, "card_printer")

    def insert_made_card(self) -> None:
        self.ask("call", "kiosk.insert_made_card", (), {})

    def insert_staff_card(self) -> None:
        self.ask("call", "kiosk.insert_staff_card", (), {})

    def cut_network(self) -> None:
        self.ask("call", "kiosk.cut_network", (), {})

    def show_essc_code(self, id_number: str) -> str:
        return self.ask("call", "kiosk.show_essc_code", (id_number,), {})

    def garble_qr_scan(self, raw: bytes) -> None:
        self.ask("call", "kiosk.garble_qr_scan", (raw,), {})

    def pay_fee_order(self, order_id: str) -> dict:
        return self.ask("call", "kiosk.pay_fee_order", (order_id,), {})

    def expire_fee_order(self, order_id: str) -> dict:
        return self.ask("call", "kiosk.expire_fee_order", (order_id,), {})

    def ask(self, *message):
        with self._lock:
            self._conn.send(message)
            ok, value = self._conn.recv()
        if not ok:
            raise RuntimeError(value)
        return value


def child(fd: int) -> int:
    """The kiosk app and the demo's visits, measured from the parent."""
    sys.path.insert(0, str(ROOT))
    parent = _ParentLink(Connection(fd))
    config = parent.ask("config")
    from screens.app import KioskApp, configure_window
    from kiosk.core import KioskCore
    from kivy.clock import Clock

    configure_window(config)
    # What the face worker is asked now, told to the parent when it changes: the memory with the
    # models loaded is taken for a face check and for a photo apart (their models differ).
    from kiosk.face_worker import FaceWorker
    calls = FaceWorker._call
    asked = {"purpose": None}

    def told_call(worker, kind, *args):
        purpose = "photo" if kind == "make_photo" else "face_check"
        if purpose != asked["purpose"]:
            asked["purpose"] = purpose
            parent.ask("face_worker_purpose", purpose)
        return calls(worker, kind, *args)
    FaceWorker._call = told_call
    # The camera is the kiosk's own device, in its process: here the simulated one, its person
    # hearing the challenges the kiosk speaks.
    from drivers.sim.camera import SimulatedCameraProcess, face_test_images
    from simulation.stack import CAMERA_PHOTO, OTHER_PERSON_PHOTO
    camera = SimulatedCameraProcess(face_test_images() / CAMERA_PHOTO, face_test_images() / OTHER_PERSON_PHOTO)
    core = KioskCore(config, camera=camera).start()
    core.assurance.listeners.append(camera.hear)
    app = KioskApp(core)
    state: dict = {"script": None}

    def on(name: str) -> bool:
        return app.root is not None and app.root.current == name and not app.root.transition.is_active

    def home_ready(_dt):
        if not on("home"):
            return True
        from kivy.core.window import Window

        def flipped(*_args):
            Window.unbind(on_flip=flipped)
            parent.ask("home_ready", time.monotonic())
        Window.bind(on_flip=flipped)
        Window.canvas.ask_update()   # the frame that shows it, even if one was drawn already
        return False

    def idle_phases() -> None:
        """On its own thread, blocked on the parent while it samples: nothing of the bench runs
        in this process then."""
        threads = {t.native_id: t.name for t in threading.enumerate()}
        parent.ask("visits_done", threads)       # parent: memory, offline idle, backend back

        def delivered(_dt):
            if not (app.link_up and core.outbox.stats().pending == 0):
                return True
            threading.Thread(target=online_phase, name="bench", daemon=True).start()
            return False
        Clock.schedule_interval(delivered, 0.5)

    def online_phase() -> None:
        threads = {t.native_id: t.name for t in threading.enumerate()}
        parent.ask("online", threads)            # parent: online idle
        Clock.schedule_once(lambda _dt: app.stop())

    def script_visits(_dt):
        from simulation import demo

        class Script(demo.Script):
            def screenshot(self, name: str) -> None:
                pass  # a kiosk takes none; the demo's pictures are not what is measured

            def _run(self, index: int) -> None:
                if index == len(self.steps):
                    threading.Thread(target=idle_phases, name="bench", daemon=True).start()
                    return
                super()._run(index)

        script = state["script"] = Script(app, Path(tempfile.gettempdir()))
        demo.add_visits(script, demo.Kiosk(app), parent, {})
        script.start()

    Clock.schedule_interval(home_ready, 0)
    Clock.schedule_once(script_visits, 1.0)
    try:
        app.run()
    finally:
        core.close()
    error = state["script"].error if state["script"] else "the app stopped before the visits"
    parent.ask("finished", error)
    return 0 if error is None else 1


# --- the parent: simulators, backend, measurements -----------------------------------------

def _proc(pid: int, name: str) -> str:
    return Path(f"/proc/{pid}/{name}").read_text()


def _cpu_ticks(stat: str) -> int:
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])   # utime, stime


def _threads_cpu(pid: int) -> dict[int, tuple[str, int]]:
    result = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            result[int(task.name)] = ((task / "comm").read_text().strip(), _cpu_ticks((task / "stat").read_text()))
    return result


def _status_mb(pid: int, key: str) -> float:
    line = next(line for line in _proc(pid, "status").splitlines() if line.startswith(key + ":"))
    return int(line.split()[1]) / 1024


def _mesa_mb(pid: int) -> float:
    total, mesa = 0, False
    for line in _proc(pid, "smaps").splitlines():
        head = line.split(None, 1)[0]
        if not head.endswith(":"):            # a mapping's first line
            mesa = bool(MESA_LIBRARIES.search(line))
        elif head == "Rss:" and mesa:
            total += int(line.split()[1])
    return total / 1024


FACE_WORKER, CAMERA = b"kiosk.face_worker_process", b"drivers.camera_process"


def _helpers(pid: int) -> dict[int, bytes]:
    """The kiosk's own helper processes, each with its kind: its face worker
    (kiosk/face_worker.py) and its camera's (drivers/camera_process.py); not the simulators'."""
    found = {}
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                with contextlib.suppress(OSError):
                    command = Path(f"/proc/{child}/cmdline").read_bytes()
                    found.update({int(child): kind for kind in (FACE_WORKER, CAMERA) if kind in command})
    return found


def _helpers_mb(helpers) -> float:
    total = 0.0
    for helper in helpers:
        with contextlib.suppress(OSError, StopIteration):
            total += _status_mb(helper, "VmRSS")
    return total


def sample_with_face_models(pid: int, measured: dict) -> None:
    """The kiosk's resident memory with its face models loaded: its own, its face worker's and
    its camera process's, taken together while a worker runs (the highest such sum over the visits)."""
    helpers = _helpers(pid)
    workers = [helper for helper, kind in helpers.items() if kind == FACE_WORKER]
    if not workers:
        return
    with contextlib.suppress(OSError, StopIteration):
        worker_mb = _helpers_mb(workers)
        total = _status_mb(pid, "VmRSS") + _helpers_mb(helpers)
        highest = measured.setdefault("with_face_models", {}).setdefault(measured.get("face_worker_purpose"), (0.0, 0.0))
        if total > highest[0]:
            measured["with_face_models"][measured.get("face_worker_purpose")] = (total, worker_mb)


def sample_idle(pid: int, names: dict[int, str]) -> tuple[float, list[tuple[float, str]]]:
    """% of one core the child used over IDLE_SAMPLE_S, and its busiest threads."""
    time.sleep(SETTLE_S)
    started, before, tasks_before = time.monotonic(), _cpu_ticks(_proc(pid, "stat")), _threads_cpu(pid)
    time.sleep(IDLE_SAMPLE_S)
    after, tasks_after, elapsed = _cpu_ticks(_proc(pid, "stat")), _threads_cpu(pid), time.monotonic() - started
    hz = os.sysconf("SC_CLK_TCK")
    busiest = sorted(((100 * (ticks - tasks_before.get(tid, (comm, 0))[1]) / hz / elapsed,
                       names.get(tid, comm)) for tid, (comm, ticks) in tasks_after.items()), reverse=True)
    return 100 * (after - before) / hz / elapsed, [b for b in busiest if b[0] > 0][:6]


def bench_config(config):
    """The demo's configuration (its fees too) with the outbox timings of a deployed kiosk."""
    from kiosk.config import KioskConfig
    from simulation.demo import DEMO_FEES
    deployed = KioskConfig().outbox
    return dataclasses.replace(config, outbox=dataclasses.replace(
        config.outbox, poll_s=deployed.poll_s, probe_interval_s=deployed.probe_interval_s,
        backoff_base_s=deployed.backoff_base_s), fees=dataclasses.replace(config.fees, charges=DEMO_FEES))


def measure() -> dict:
    sys.path.insert(0, str(ROOT))
    from simulation import demo

    measured: dict = {}
    with tempfile.TemporaryDirectory(prefix="kiosk-bench-ui-") as tmp, contextlib.ExitStack() as stack:
        folder = Path(tmp)
        sim = stack.enter_context(demo.simulated_kiosk(folder, idle_timeout_s=demo.IDLE_TIMEOUT_S))
        config = bench_config(sim.config)
        ours, theirs = socket.socketpair()
        log_path = folder / "child.log"
        with open(log_path, "wb") as log:
            started = time.monotonic()
            kiosk = subprocess.Popen([sys.executable, __file__, "--child", str(theirs.fileno())], cwd=ROOT,
                                     pass_fds=[theirs.fileno()], stdout=log, stderr=subprocess.STDOUT)
        theirs.close()
        conn = Connection(ours.detach())
        stack.callback(lambda: kiosk.poll() is None and kiosk.kill())
        deadline = started + CHILD_TIMEOUT_S
        while True:
            while not conn.poll(0.2):
                sample_with_face_models(kiosk.pid, measured)
                if kiosk.poll() is not None or time.monotonic() > deadline:
                    measured.setdefault("error", f"the kiosk process ended or hung (exit {kiosk.poll()})")
                    measured["log"] = log_path.read_text(errors="replace")[-3000:]
                    return measured
            try:
                kind, *args = conn.recv()
            except EOFError:   # the kiosk closed its end: it ended (a closed socket polls ready for ever)
                try:
                    kiosk.wait(10)
                except subprocess.TimeoutExpired:
                    pass
                measured.setdefault("error", f"the kiosk process closed its end of the link (exit {kiosk.poll()})")
                measured["log"] = log_path.read_text(errors="replace")[-3000:]
                return measured
            sample_with_face_models(kiosk.pid, measured)
            reply = None
            try:
                if kind == "config":
                    reply = config
                elif kind == "call":
                    what, call_args, call_kwargs = args
                    device, method = what.split(".")
                    target = sim if device == "kiosk" else getattr(sim, device)
                    reply = getattr(target, method)(*call_args, **call_kwargs)
                elif kind == "face_worker_purpose":
                    measured["face_worker_purpose"] = args[0]
                elif kind == "home_ready":
                    measured["cold_start_s"] = args[0] - started
                elif kind == "visits_done":
                    measured["helpers_mb"] = _helpers_mb(_helpers(kiosk.pid))   # none should run between visits
                    measured["rss_mb"] = _status_mb(kiosk.pid, "VmRSS") + measured["helpers_mb"]
                    measured["peak_mb"] = _status_mb(kiosk.pid, "VmHWM")
                    measured["mesa_mb"] = _mesa_mb(kiosk.pid)
                    measured["idle_cpu_offline_pct"], measured["busiest_offline"] = sample_idle(kiosk.pid, args[0])
                    sim.restore_network()
                    stack.callback(sim.backend.stop)
                elif kind == "online":
                    measured["idle_cpu_online_pct"], measured["busiest_online"] = sample_idle(kiosk.pid, args[0])
                    measured["rss_after_idle_mb"] = _status_mb(kiosk.pid, "VmRSS")
                elif kind == "finished":
                    conn.send((True, None))
                    if args[0]:
                        measured["error"] = f"scripted visit failed: {args[0]}"
                    kiosk.wait(30)
                    return measured
                conn.send((True, reply))
            except Exception as exc:  # a device call that failed: the script's step fails
                conn.send((False, f"{type(exc).__name__}: {exc}"))


@contextlib.contextmanager
def display():
    if os.environ.get("DISPLAY"):
        yield
        return
    n = 99
    while Path(f"/tmp/.X{n}-lock").exists() or Path(f"/tmp/.X11-unix/X{n}").exists():
        n += 1
    xvfb = subprocess.Popen(["Xvfb", f":{n}", "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(50):
            if Path(f"/tmp/.X11-unix/X{n}").exists():
                break
            time.sleep(0.1)
        os.environ["DISPLAY"] = f":{n}"
        yield
    finally:
        xvfb.terminate()
        xvfb.wait(5)


@contextlib.contextmanager
def smart_cards():
    """pcscd with vpcd, and the vpcd slots to ourselves (the machine lock, even when another
    run's pcscd is already listening)."""
    sys.path.insert(0, str(ROOT))
    from drivers.sim.pcscd import pcscd_running
    with tempfile.TemporaryDirectory(prefix="kiosk-bench-") as tmp, pcscd_running(Path(tmp) / "run"):
        yield


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        return child(int(sys.argv[2]))
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
    os.environ.setdefault("LIBGL_ALWAYS_SOFTWARE", "1")
    with display(), smart_cards(), tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("KIVY_HOME", str(Path(tmp) / "kivy-home"))
        measured = measure()
    if measured.get("error"):
        print(measured["error"], measured.get("log", ""), file=sys.stderr)
        return 1
    idle = max(measured["idle_cpu_offline_pct"], measured["idle_cpu_online_pct"])
    print(f"cold start to interactive home: {measured['cold_start_s']:.2f} s")
    print(f"resident memory after the scripted visits: {measured['rss_mb']:.0f} MB, its helper processes' "
          f"{measured['helpers_mb']:.0f} MB of it (peak {measured['peak_mb']:.0f} MB, "
          f"{measured['mesa_mb']:.0f} MB of it Mesa's libraries; {measured['rss_after_idle_mb']:.0f} MB after idling)")
    with_models = measured.get("with_face_models", {})   # none if no visit started a face worker
    for purpose, words in (("face_check", "a face check"), ("photo", "a card photo")):
        total, worker = with_models.get(purpose, (0.0, 0.0))
        print(f"resident memory with the face models loaded for {words} (the kiosk, its face worker and its camera's process, highest over "
              f"the visits): {total:.0f} MB (the worker {worker:.0f} MB)")
    for phase in ("offline", "online"):
        busiest = ", ".join(f"{name} {pct:.2f}" for pct, name in measured[f"busiest_{phase}"])
        print(f"idle CPU on the home screen over {IDLE_SAMPLE_S:.0f} s, backend {'down' if phase == 'offline' else 'up'}: "
              f"{measured[f'idle_cpu_{phase}_pct']:.2f} % of a core ({busiest})")
    print(json.dumps({"cold_start_s": round(measured["cold_start_s"], 2), "rss_mb": round(measured["rss_mb"], 1),
                      "rss_with_face_check_models_mb": round(with_models.get("face_check", (0.0,))[0], 1),
                      "rss_with_photo_models_mb": round(with_models.get("photo", (0.0,))[0], 1),
                      "idle_cpu_pct": round(idle, 2),
                      "idle_cpu_offline_pct": round(measured["idle_cpu_offline_pct"], 2),
                      "idle_cpu_online_pct": round(measured["idle_cpu_online_pct"], 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
