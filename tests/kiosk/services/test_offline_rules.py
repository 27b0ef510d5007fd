"""The offline rules are one table: the code's, and the README's copy of it."""
from pathlib import Path

from kiosk.services.offline_rules import OFFLINE_RULES, QUEUE, REFUSE, available_offline, markdown_table


def test_readme_holds_the_table_the_code_uses():
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    start = readme.index("<!-- offline-rules:start -->") + len("<!-- offline-rules:start -->")
    end = readme.index("<!-- offline-rules:end -->")
    assert readme[start:end].strip() == markdown_table()


def test_a_loss_report_never_waits_and_every_refusal_names_an_alternative_or_a_window():
    temporary = next(rule for rule in OFFLINE_RULES if rule.action == "report_loss_temporary")
    assert temporary.offline == QUEUE and temporary.urgent
    for rule in OFFLINE_RULES:
        if rule.offline == REFUSE:
            assert "可办" in rule.citizen_message or "窗口" in rule.citizen_message or "可受理" in rule.citizen_message
    assert {rule.action for rule in available_offline()} >= {"report_loss_temporary", "change_pin", "review"}
