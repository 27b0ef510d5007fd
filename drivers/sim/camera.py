"""A simulated camera: a person (or a photo, or nobody) in front of the kiosk, made from still
images, at the camera's frame rate.

Scenes: the right person, another person, a photo of the right person held up, a video of the
right person looking into a camera played back on a phone, nobody. A live
person hears the kiosk's spoken challenge (`hear()`, wired to the kiosk's prompts as a person's
ears are) and performs it: a head turn is a smooth horizontal warp of the face that moves the
nose across it between the jaw lines and back, over about a second; a blink shuts both eyes
for half a second, each upper lid's skin slid down to the lower lid along the landmarks, the
lashes drawn where the lids meet. A photo held up hears nothing and never moves, so it cannot
pass; the video sways as a hand holding a phone does and its light breathes, but it cannot
turn or blink when asked either.

Whoever stands there may also hold up a phone showing the electronic social security card's
QR code (`show_qr(text)`, #19): a phone in front of the person, its white screen holding the
code at a size zxing reads at 640x480; `show_qr(None)` puts it away. It stays through scene
changes, as a phone stays in a hand.

The faces come from image files (the test images ./run installs, see `face_test_images()`);
they are framed as a person half a metre from the camera is. `SimulatedCameraProcess` drives
the simulator as the kiosk drives its real camera, from a process of its own.
"""
from __future__ import annotations

import enum
import functools
import sys
import threading
import time
from pathlib import Path

import numpy as np

from drivers.camera_process import CameraProcess

FRAME_SIZE = (640, 480)
FACE_WIDTH = 220          # pixels: a face half a metre from a 640x480 camera
TURN_AMOUNT = 0.45        # how far the warp moves the middle of the face, as a fraction of its half width
TURN_SECONDS = 1.2
BLINK_SECONDS = 0.8       # a deliberate blink, as asked: the eyes shut for the middle 60 % of it
# dlib's 68 points of each eye: outer corner, upper lid (two), inner corner, lower lid (two)
EYES = ((36, 37, 38, 39, 40, 41), (42, 43, 44, 45, 46, 47))


QR_PIXELS = 240           # the code's side on the phone's screen, quiet zone included, at most
PHONE_MARGIN = 24         # the screen around the code, and the body around the screen

# What a live person does when asked, and how long it takes.
ACTIONS = {"turn_left": TURN_SECONDS, "turn_right": TURN_SECONDS, "blink": BLINK_SECONDS}


class Scene(enum.StrEnum):
    RIGHT_PERSON = "right_person"
    OTHER_PERSON = "other_person"
    PHOTO_HELD_UP = "photo_held_up"
    VIDEO_REPLAYED = "video_replayed"
    NOBODY = "nobody"


def face_test_images() -> Path:
    """Where ./run puts the test images of the face_recognition 1.3.0 source package: three
    photos of one person (obama*.jpg, two more partial), one of another (biden.jpg)."""
    return Path(sys.prefix) / "share" / "face-test-images"


def _landmark_models() -> tuple:
    """dlib's face detector and 68-point landmarks (jaw lines, lids), for the camera's frames."""
    import dlib
    import face_recognition_models as models
    return dlib.get_frontal_face_detector(), dlib.shape_predictor(models.pose_predictor_model_location())


def _framed_faces(sources: tuple[Path, ...]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each source's face framed, with its 68 landmarks."""
    detector, predictor = _landmark_models()
    framed = [_framed(_load(path), detector) for path in sources]
    return [(frame, _landmarks_of(frame, detector, predictor)) for frame in framed]


def _framed_faces_elsewhere(sources: tuple[Path, ...]) -> list[tuple[np.ndarray, np.ndarray]]:
    """`_framed_faces` in a short-lived process of its own: a real camera runs no face model,
    so the simulated one keeps dlib and its 68-point model (about 100 MB while loaded) out of
    the process it serves, the kiosk's (#17). Test images only: nobody's personal data."""
    import pickle
    import subprocess
    done = subprocess.run([sys.executable, "-m", "drivers.sim.camera", *map(str, sources)], capture_output=True,
                          timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"the simulated camera's frames could not be made: {done.stderr.decode(errors='replace')[-500:]}")
    return pickle.loads(done.stdout)


def _framed(image: np.ndarray, detector) -> np.ndarray:
    """The face of `image` centred in a camera frame at FACE_WIDTH."""
    import cv2
    found = detector(image, 1)
    if len(found) != 1:
        raise ValueError(f"a scene image needs exactly one face, it has {len(found)}")
    face = found[0]
    scale = FACE_WIDTH / face.width()
    big = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    width, height = FRAME_SIZE
    cx, cy = int((face.left() + face.right()) / 2 * scale), int((face.top() + face.bottom()) / 2 * scale)
    padded = np.pad(big, ((height, height), (width, width), (0, 0)), mode="edge")
    x0, y0 = cx + width - width // 2, cy + height - height // 2 + 20
    return np.ascontiguousarray(padded[y0:y0 + height, x0:x0 + width])


def _landmarks_of(frame: np.ndarray, detector, predictor) -> np.ndarray:
    shape = predictor(frame, detector(frame, 0)[0])
    return np.array([(shape.part(i).x, shape.part(i).y) for i in range(68)], dtype=np.float32)


def _load(path: Path) -> np.ndarray:
    from PIL import Image
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def _eyes_shut(frame: np.ndarray, points: np.ndarray) -> np.ndarray:
    """`frame` with both eyes shut: in each column of an eye, the skin between a band above it
    and the upper lid is stretched down to the lower lid (so the lid covers the eye as a lid
    does), and the lashes are drawn along the lower lid, where the lids meet."""
    import cv2
    height, width = frame.shape[:2]
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    map_y = ys.copy()
    lash_lines = []
    for corner, up1, up2, inner, low1, low2 in EYES:
        upper = points[[corner, up1, up2, inner]]
        lower = points[[corner, low2, low1, inner]]   # 41 lies under 37, 40 under 38
        eye_width = upper[-1, 0] - upper[0, 0]
        top = upper[:, 1].min() - 0.35 * eye_width    # below the brow
        for x in range(int(upper[0, 0]), int(np.ceil(upper[-1, 0])) + 1):
            lid = np.interp(x, upper[:, 0], upper[:, 1])
            meet = max(np.interp(x, lower[:, 0], lower[:, 1]), lid) + 1
            rows = np.arange(int(top), int(meet) + 1)
            map_y[rows, x] = top + (rows - top) * (lid - top) / (meet - top)
        lash_lines.append(lower.astype(np.int32))
    shut = cv2.remap(frame, xs, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    lashes = cv2.polylines(shut.copy(), lash_lines, False, (45, 35, 35), 2, cv2.LINE_AA)
    return cv2.addWeighted(lashes, 0.75, shut, 0.25, 0)


class _TurnWarp:
    """The maps that turn one framed face: the middle of the face slides sideways, the jaw
    lines and the background stay. Only the box the warp moves is remapped (its maps are a
    tenth of a whole frame's: the simulator's memory is counted in the kiosk's process)."""

    def __init__(self, frame: np.ndarray, points: np.ndarray):
        height, width = frame.shape[:2]
        left, right = points[0, 0], points[16, 0]
        top, bottom = points[19, 1] - (points[8, 1] - points[19, 1]) * 0.3, points[8, 1]
        cx, self.half = (left + right) / 2, (right - left) / 2 * 1.15
        cy, half_height = (top + bottom) / 2, (bottom - top) / 2 * 1.2
        # where the weight below is not zero (|u| < 1 and |v| < 1), within the frame
        self.x0, self.x1 = max(int(np.floor(cx - self.half)), 0), min(int(np.ceil(cx + self.half)) + 1, width)
        self.y0, self.y1 = max(int(np.floor(cy - half_height)), 0), min(int(np.ceil(cy + half_height)) + 1, height)
        self.xs, self.ys = np.meshgrid(np.arange(self.x0, self.x1, dtype=np.float32),
                                       np.arange(self.y0, self.y1, dtype=np.float32))
        u = (self.xs - cx) / self.half
        v = (self.ys - cy) / half_height
        inside = (np.abs(u) < 1) & (np.abs(v) < 1)
        self.weight = (np.cos(np.clip(u, -1, 1) * np.pi / 2) * np.cos(np.clip(v, -1, 1) * np.pi / 2) * inside
                       ).astype(np.float32)

    def apply(self, frame: np.ndarray, amount: float) -> np.ndarray:
        """amount > 0: the nose moves to the image's right (the person turns to their left)."""
        import cv2
        map_x = self.xs - amount * self.half * self.weight
        turned = frame.copy()
        turned[self.y0:self.y1, self.x0:self.x1] = cv2.remap(frame, map_x, self.ys, cv2.INTER_LINEAR,
                                                             borderMode=cv2.BORDER_REPLICATE)
        return turned


class _PhoneShowingQr:
    """A phone held up square to the camera, its screen showing a QR code: a dark body with
    rounded corners, a white screen, the code drawn with whole pixels per module (as sharp as a
    phone shows it) and centred in the frame."""

    def __init__(self, text: str, frame_size: tuple[int, int]):
        import cv2
        import segno
        code = segno.make_qr(text, error="m")
        modules = code.symbol_size(border=4)[0]
        scale = max(1, QR_PIXELS // modules)
        pattern = np.array([list(row) for row in code.matrix_iter(border=4)], dtype=bool)
        qr = np.where(np.kron(pattern, np.ones((scale, scale), dtype=bool))[..., None], 0, 255).astype(np.uint8)
        side = qr.shape[0]
        screen_w, screen_h = side + 2 * PHONE_MARGIN, int((side + 2 * PHONE_MARGIN) * 1.5)
        width, height = screen_w + PHONE_MARGIN, screen_h + 2 * PHONE_MARGIN   # thin sides, more above and below
        frame_w, frame_h = frame_size
        if width > frame_w or height > frame_h:
            raise ValueError(f"a code of {len(text)} characters does not fit on the phone")
        body = np.zeros((height, width), np.uint8)
        radius = PHONE_MARGIN
        cv2.rectangle(body, (radius, 0), (width - 1 - radius, height - 1), 255, -1)
        cv2.rectangle(body, (0, radius), (width - 1, height - 1 - radius), 255, -1)
        for x in (radius, width - 1 - radius):
            for y in (radius, height - 1 - radius):
                cv2.circle(body, (x, y), radius, 255, -1, cv2.LINE_AA)
        self.image = np.full((height, width, 3), 30, np.uint8)
        sx, sy = (width - screen_w) // 2, PHONE_MARGIN
        self.image[sy:sy + screen_h, sx:sx + screen_w] = 255
        self.image[sy:sy + PHONE_MARGIN * 2, sx:sx + screen_w] = (30, 120, 210)   # the app's title bar
        qx, qy = sx + PHONE_MARGIN, sy + (screen_h - side) // 2
        self.image[qy:qy + side, qx:qx + side] = qr
        self.alpha = (body.astype(np.float32) / 255)[..., None]
        self.x, self.y = (frame_w - width) // 2, (frame_h - height) // 2

    def hold_up(self, frame: np.ndarray) -> None:
        """Put the phone in front of whatever `frame` shows (in place)."""
        height, width = self.image.shape[:2]
        behind = frame[self.y:self.y + height, self.x:self.x + width]
        behind[:] = (self.image * self.alpha + behind * (1 - self.alpha)).astype(np.uint8)


class SimulatedCamera:
    def __init__(self, right_person: Path, other_person: Path, scene: Scene = Scene.RIGHT_PERSON,
                 fps: float = 15.0, clock=time.monotonic, faces=None, qr: str | None = None):
        self.fps = fps
        self._scene = Scene(scene)
        self._clock = clock
        self._sources = (right_person, other_person)
        self._faces = faces   # each person's face framed, with its landmarks: made once, on the first read
        self._frames: dict[Scene, np.ndarray] = {}   # made from them on a read after the camera was closed
        self._warps: dict[Scene, _TurnWarp] = {}
        self._shut: dict[Scene, np.ndarray] = {}   # each live scene's face with its eyes shut
        self._action: tuple[str, float] | None = None   # (challenge, started)
        self._next_frame = 0.0
        self._phone: _PhoneShowingQr | None = None if qr is None else _PhoneShowingQr(qr, FRAME_SIZE)
        self._lock = threading.Lock()

    def _prepare(self) -> None:
        with self._lock:
            self._prepared()

    def _prepared(self) -> None:
        """The frames made, if they are not (the lock held)."""
        if self._frames:
            return
        if self._faces is None:   # most kiosks of the tests never look
            self._faces = _framed_faces_elsewhere(self._sources)
        (right, right_points), (other, other_points) = self._faces
        for scene, frame, points in ((Scene.RIGHT_PERSON, right, right_points),
                                     (Scene.OTHER_PERSON, other, other_points)):
            self._warps[scene], self._shut[scene] = _TurnWarp(frame, points), _eyes_shut(frame, points)
        self._frames = {Scene.RIGHT_PERSON: right, Scene.OTHER_PERSON: other, Scene.PHOTO_HELD_UP: self._held_up(right),
                        Scene.VIDEO_REPLAYED: right, Scene.NOBODY: np.full_like(right, 180)}

    def __repr__(self) -> str:
        return "simulated camera"

    @property
    def scene(self) -> Scene:
        return self._scene

    @scene.setter
    def scene(self, scene: Scene) -> None:
        """Someone else steps up: whatever the last one was doing stops."""
        with self._lock:
            self._scene, self._action = Scene(scene), None

    @staticmethod
    def _held_up(frame: np.ndarray) -> np.ndarray:
        """The right person's photo held up: the same face, a little smaller, in a white border."""
        import cv2
        height, width = frame.shape[:2]
        photo = cv2.resize(frame, (int(width * 0.9), int(height * 0.9)), interpolation=cv2.INTER_AREA)
        held = np.full_like(frame, 120)
        y, x = (height - photo.shape[0]) // 2, (width - photo.shape[1]) // 2
        held[y - 6:y + photo.shape[0] + 6, x - 6:x + photo.shape[1] + 6] = 245
        held[y:y + photo.shape[0], x:x + photo.shape[1]] = photo
        return held

    @staticmethod
    def _replayed(frame: np.ndarray, now: float) -> np.ndarray:
        """The video on a phone: the face looking straight ahead, drifting by a few pixels as the
        hand holding the phone sways, its brightness breathing with the screen's."""
        import cv2
        dx, dy = 4 * np.sin(2 * np.pi * now / 2.3), 3 * np.sin(2 * np.pi * now / 3.7)
        moved = cv2.warpAffine(frame, np.float32([[1, 0, dx], [0, 1, dy]]), frame.shape[1::-1],
                               borderMode=cv2.BORDER_REPLICATE)
        return cv2.convertScaleAbs(moved, alpha=1.0 + 0.05 * np.sin(2 * np.pi * now / 1.3))

    def show_qr(self, text: str | None) -> None:
        """The person holds up a phone showing a QR code of `text` (None: puts it away)."""
        phone = None if text is None else _PhoneShowingQr(text, FRAME_SIZE)
        with self._lock:
            self._phone = phone

    def hear(self, challenge: str) -> None:
        """The kiosk's spoken challenge reaches the person in front (a photo hears nothing)."""
        if self.scene in (Scene.RIGHT_PERSON, Scene.OTHER_PERSON) and str(challenge) in ACTIONS:
            with self._lock:
                self._action = (str(challenge), self._clock())

    def read(self) -> np.ndarray:
        self._prepare()
        now = self._clock()
        if now < self._next_frame:
            time.sleep(self._next_frame - now)
        self._next_frame = max(now, self._next_frame) + 1 / self.fps
        frame = self._scene_frame(now)
        with self._lock:
            phone = self._phone
        if phone is not None:
            phone.hold_up(frame)
        return frame

    def _scene_frame(self, now: float) -> np.ndarray:
        """What the scene looks like at `now`: a new array, the caller's to draw on."""
        with self._lock:
            self._prepared()   # again: the camera may have been closed since the read began
            scene, action, frames, warps, shut = self._scene, self._action, self._frames, self._warps, self._shut
        frame = frames[scene]
        if scene == Scene.VIDEO_REPLAYED:
            return self._replayed(frame, now)
        if action is None or scene not in warps:
            return frame.copy()
        challenge, started = action
        progress = (self._clock() - started) / ACTIONS[challenge]
        if progress >= 1:
            with self._lock:
                self._action = None
            return frame.copy()
        if challenge == "blink":
            return (shut[scene] if 0.2 <= progress < 0.8 else frame).copy()
        direction = 1.0 if challenge == "turn_left" else -1.0
        amount = direction * TURN_AMOUNT * np.sin(np.pi * progress)   # out and back
        return warps[scene].apply(frame, float(amount))

    def close(self) -> None:
        """The camera off, as the kiosk leaves it between checks: the frames it made go, as a real
        camera's buffers do (about 7 MB; made again in 10 ms); the people in front of it stay."""
        with self._lock:
            self._frames, self._warps, self._shut = {}, {}, {}


class SimulatedCameraProcess(CameraProcess):
    """The simulator driven as the kiosk drives its real camera, from a process of its own
    (drivers/camera_process.py), started on a read and ended when the camera is closed. Who
    stands in front of it, what they hear and the phone they hold up are told to the process
    that runs, and to each one started later; the faces are found once, here, and handed to
    each (finding them takes the 68-point model some 2.6 s)."""

    def __init__(self, right_person: Path, other_person: Path, scene: Scene = Scene.RIGHT_PERSON, fps: float = 15.0):
        super().__init__(None, "simulated camera")
        self.fps = fps
        self._sources = (right_person, other_person)
        self._faces = None
        self._scene = Scene(scene)
        self._qr: str | None = None

    def _started(self, conn) -> None:
        if self._faces is None:
            self._faces = _framed_faces_elsewhere(self._sources)
        conn.send(functools.partial(SimulatedCamera, *self._sources, scene=self._scene, fps=self.fps, faces=self._faces,
                                    qr=self._qr))

    def _tell(self, kind: str, *args) -> None:
        """To the camera's process, if one runs (the next one hears of it when it starts)."""
        if self.pid is not None:
            self._call(kind, *args)

    @property
    def scene(self) -> Scene:
        return self._scene

    @scene.setter
    def scene(self, scene: Scene) -> None:
        self._scene = Scene(scene)
        self._tell("set", "scene", self._scene)

    def show_qr(self, text: str | None) -> None:
        self._qr = text
        self._tell("show_qr", text)

    def hear(self, challenge: str) -> None:
        self._tell("hear", str(challenge))   # its words: the kiosk's Challenge stays in the kiosk


if __name__ == "__main__":   # _framed_faces_elsewhere: the frames, pickled on stdout
    import pickle
    sys.stdout.buffer.write(pickle.dumps(_framed_faces(tuple(Path(arg) for arg in sys.argv[1:]))))
