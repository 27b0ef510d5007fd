"""The catalogue of actions is one table: the code's, and the README's copy of it; its offline
rules keep a loss report first and name an alternative for every refusal."""
from pathlib import Path

from kiosk.services.catalog import ACTIONS, Offline, available_offline, markdown_table


def test_readme_holds_the_table_the_code_uses():
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    start = readme.index("<!-- offline-rules:start -->") + len("<!-- offline-rules:start -->")
    end = readme.index("<!-- offline-rules:end -->")
    assert readme[start:end].strip() == markdown_table()


def test_a_loss_report_never_waits_and_every_refusal_names_an_alternative_or_a_window():
    temporary = next(action for action in ACTIONS if action.name == "report_loss_temporary")
    assert temporary.offline == Offline.QUEUE and temporary.urgent
    for action in ACTIONS:
        if action.offline == Offline.REFUSE:
            message = action.offline_message
            assert "可办" in message or "窗口" in message or "可受理" in message
    assert {action.name for action in available_offline()} >= {"report_loss_temporary", "change_pin", "review"}
