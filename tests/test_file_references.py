"""A file the project's code names in its docstrings and comments exists: a module moved or
renamed leaves no stale pointer for the next reader (drivers/camera.py once sent them to
kiosk/face/check.py, which had become kiosk/face_check.py)."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("kiosk", "drivers", "screens", "offline_queue", "reference_backend", "simulation", "bench", "deploy")
# A path from the repository's root to a file: a top folder, then names, then a file's extension.
NAMED_FILE = re.compile(r"(?<![\w./-])((?:%s)/[\w./-]*\.(?:py|kv|toml|md|json|service|conf))\b" % "|".join(FOLDERS))


def named_files(text: str) -> set[str]:
    return set(NAMED_FILE.findall(text))


def test_the_pattern_finds_a_named_file_and_leaves_dotted_names_alone():
    assert named_files("(kiosk/face/check.py), see drivers/sim/profiles/README.md.") == {
        "kiosk/face/check.py", "drivers/sim/profiles/README.md"}
    assert named_files("drivers/qr_scanner.check_code, tests/kiosk/test_cli.py") == set()


def test_every_file_the_code_names_exists():
    missing = []
    for folder in FOLDERS:
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in (".py", ".kv") and path.is_file():
                missing += [f"{path.relative_to(ROOT)}: {name}" for name in named_files(path.read_text(encoding="utf-8"))
                            if not (ROOT / name).exists()]
    assert not missing, "\n".join(missing)
