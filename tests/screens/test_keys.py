"""No key or gesture leaves or reconfigures the kiosk, and Kivy keeps its hands off logging
(#16): ui_keys.py presses F1 and Escape and asks the window to close, on the real app."""
import logging
import os
from pathlib import Path

import pytest

from tests.ui_script import run_ui_script


@pytest.fixture(scope="module")
def seen(pcscd, tmp_path_factory):
    home = tmp_path_factory.mktemp("kivy-home")
    return run_ui_script(Path(__file__).with_name("ui_keys.py"), env={"KIVY_HOME": str(home)})


def test_f1_opens_no_settings_panel(seen):
    assert seen["settings_after_f1"] is False


def test_escape_and_a_close_request_do_not_stop_the_kiosk(seen):
    assert seen["close_refused"] is True and seen["running_after_keys"] is True


def test_kivy_leaves_the_root_logger_alone_and_writes_no_log_file(seen):
    assert seen["root_level"] == logging.WARNING
    assert seen["root_handlers_added"] == []
    assert not [name for name in seen["kivy_files"] if name.startswith("logs")], seen["kivy_files"]


def test_the_environment_cannot_reopen_kivy_logging():
    import subprocess
    import sys
    code = "import screens, os; print(os.environ['KIVY_LOG_MODE'], os.environ['KIVY_NO_FILELOG'])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30,
                          env={**os.environ, "KIVY_LOG_MODE": "KIVY", "KIVY_NO_FILELOG": "0"})
    assert done.stdout.split() == ["PYTHON", "1"], done.stderr
