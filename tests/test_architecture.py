"""The rooms of DESIGN.md hold: imports point down only, the kiosk never loads the simulation
or the reference backend, and no module imports itself round a cycle."""
import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("kiosk", "drivers", "screens", "offline_queue", "reference_backend", "simulation")
SIMULATION = ("simulation", "reference_backend", "drivers.sim")


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = modules()


def imported_by(name: str) -> set[str]:
    """The project's modules `name` imports anywhere in its text (a function's lazy import
    included), with the packages they are in."""
    named = set()
    for node in ast.walk(ast.parse(MODULES[name].read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            named.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            named.add(node.module)
            named.update(f"{node.module}.{alias.name}" for alias in node.names)
    found = set()
    for module in named:
        parts = module.split(".")
        for end in range(1, len(parts) + 1):
            candidate = ".".join(parts[:end])
            if candidate in MODULES and candidate != name and not name.startswith(candidate + "."):
                found.add(candidate)
    return found


def under(prefixes, module: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def test_layers_import_downwards_only():
    wrong = []
    for name in MODULES:
        imports = imported_by(name)
        if under(("screens",), name):
            wrong += [f"{name} -> {m}" for m in imports if under(("drivers",), m)]
        if under(("kiosk",), name):
            wrong += [f"{name} -> {m}" for m in imports if under(("screens", *SIMULATION), m)]
        if under(("drivers", "offline_queue"), name):
            wrong += [f"{name} -> {m}" for m in imports if under(("kiosk", "screens", "simulation",
                                                                   "reference_backend"), m)]
    assert not wrong, wrong


def test_no_import_cycle():
    graph = {name: imported_by(name) for name in MODULES}
    done, path = set(), []

    def visit(name):
        if name in path:
            raise AssertionError("import cycle: " + " -> ".join(path[path.index(name):] + [name]))
        if name in done:
            return
        path.append(name)
        for other in sorted(graph[name]):
            visit(other)
        path.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)


def test_the_kiosk_command_and_the_screens_load_no_simulator_nor_the_reference_backend():
    code = ("import sys; from kiosk.cli import build_parser; build_parser(['run']).parse_args(['run']);"
            "import screens.app;"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('simulation', 'reference_backend')"
            " or m.startswith('drivers.sim')))")
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env={"KIVY_NO_ARGS": "1", "KIVY_NO_CONSOLELOG": "1", "PATH": "/usr/bin:/bin"})
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == "[]"


def test_the_checks_above_see_a_wrong_import():
    assert under(SIMULATION, "drivers.sim.vpcd") and not under(SIMULATION, "drivers.simple")
    assert "kiosk.core" in imported_by("kiosk.cli.service") and "kiosk.cli" not in imported_by("kiosk.cli.service")
