"""The catalogue of actions: every action has every part, in Chinese and English; everything
that lists actions (receipts, statistics, the command line, the ratings) derives from it."""
import pytest

from kiosk import i18n
from kiosk.cli import service as service_cli
from kiosk.services import catalog
from kiosk.services.base import ServiceResult
from kiosk.services.catalog import ACTIONS, ITEMS, Offline, Proof


def english(text: str) -> str:
    return i18n.Translator("en").translate(text)


def test_every_action_has_every_part_in_both_languages():
    problems = []
    for action in ACTIONS:
        texts = {"title": action.title, "offline message": action.offline_message, **action.results}
        if action.is_service_item:
            texts["item name"] = ITEMS[action.item]
        for part, text in texts.items():
            if not text:
                problems.append(f"{action.name}: no {part}")
            elif english(text) == text:
                problems.append(f"{action.name}: {part} {text!r} has no English")
        if action.item not in ITEMS and action.item not in (catalog.REVIEW_ITEM, catalog.QUERY_ITEM):
            problems.append(f"{action.name}: unknown item {action.item!r}")
        if not isinstance(action.offline, Offline):
            problems.append(f"{action.name}: offline rule {action.offline!r}")
        if not all(isinstance(proof, Proof) for proof in action.requires):
            problems.append(f"{action.name}: identification {action.requires!r}")
        if not action.command or action.command.split()[0] not in service_cli.RUNNERS:
            problems.append(f"{action.name}: command {action.command!r} has no runner in kiosk/cli/service.py")
        if action.rated and not action.is_service_item:
            problems.append(f"{action.name}: only a service item is rated")
    assert not problems, problems


def test_the_command_line_runs_exactly_the_catalogues_commands_and_bundles():
    assert set(service_cli.RUNNERS) == set(catalog.commands()) | {"bundle"}


def test_results_under_an_unknown_name_are_refused():
    # Otherwise it would drop off the receipt and the statistics unseen.
    with pytest.raises(ValueError, match="not an action of the catalogue"):
        ServiceResult("1.10.6", "report_loss_by_post", "done", "…")
    assert ServiceResult("1.10.7", "replace_lost", "done", "…").ok


def test_receipt_names_and_ratings_come_from_the_catalogue():
    assert catalog.receipt_name("replace_damaged") == "换领（损坏）"
    assert catalog.receipt_name("instant_issuance") == "即时制卡"
    assert catalog.receipt_name("report_loss_temporary") == "临时挂失"
    assert not catalog.owner("review").is_service_item
    assert catalog.rated_items() == ["1.10.1", "1.10.2", "1.10.5", "1.10.6", "1.10.7"]
