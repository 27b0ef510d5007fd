"""The fleet's alert rules (#18, deploy/prometheus/) under Debian's promtool: their own unit
tests pass, and each alert fires from what a simulated kiosk really exports, scraped from its
metrics endpoint: out of paper, a ribbon running low, a dead letter, work stuck in the outbox
for two hours, its disk under its threshold, a PIN pad unplugged, and the kiosk gone silent
(its endpoint no longer answers a scrape; or, exporting through node_exporter's textfile
collector, its file no longer rewritten)."""
from __future__ import annotations

import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from simulation.stack import simulated_kiosk

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
PROMTOOL = shutil.which("promtool")
SCRAPES = 60          # an hour of scrapes, a minute apart, while the kiosk answers
SILENT_SCRAPES = 30   # then half an hour of scrapes it does not answer


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    assert PROMTOOL, "promtool is missing: ./run installs Debian's prometheus package"
    return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def test_the_shipped_rules_are_valid_and_pass_their_unit_tests():
    checked = promtool("check", "rules", "sscard-kiosk-alerts.yml", cwd=RULES)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = promtool("test", "rules", "sscard-kiosk-alerts.test.yml", cwd=RULES)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def scrape(url: str) -> str | None:
    """The exposition text, or None when the kiosk does not answer (Prometheus's up = 0)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            return reply.read().decode("utf-8")
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def selector(name: str, labels: dict) -> str:
    quoted = ", ".join(f'{key}="{value}"'.replace("\\", "\\\\") for key, value in sorted(labels.items()))
    return f"{name}{{{quoted}}}"


def input_series(text: str, job: str = "sscard-kiosk", made_at: float = 0.0) -> list[dict]:
    """Every sample of one scrape, as Prometheus stores it (with the job's and the instance's
    labels), held for an hour of scrapes and then gone stale. Promtool's clock starts at 0: the
    kiosk's timestamp is counted from `made_at`, the test's minute 0 (by default it stays a UNIX
    time, far in promtool's future: never stale, as a kiosk answering its scrapes)."""
    series = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = {**sample.labels, "job": job, "instance": "kiosk-1"}
            value = sample.value - made_at if sample.name == "kiosk_metrics_timestamp_seconds" else sample.value
            series.append({"series": selector(sample.name, labels), "values": f"{value!r}x{SCRAPES - 1}"})
    return series


def rules_without_annotations(folder: Path) -> None:
    """The shipped rules into `folder`, their annotations aside (their wording is the unit
    tests' business)."""
    rules = yaml.safe_load((RULES / "sscard-kiosk-alerts.yml").read_text(encoding="utf-8"))
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    (folder / "rules.yml").write_text(yaml.safe_dump(rules, allow_unicode=True), encoding="utf-8")


def firing(severity: str, job: str = "sscard-kiosk", **labels) -> dict:
    return {"exp_labels": {"severity": severity, "job": job, "instance": "kiosk-1", **labels}}


def passes(folder: Path, input_series: list[dict], alert_rule_test: list[dict]) -> None:
    tests = {"rule_files": ["rules.yml"], "evaluation_interval": "1m",
             "tests": [{"interval": "1m", "input_series": input_series, "alert_rule_test": alert_rule_test}]}
    (folder / "test.yml").write_text(yaml.safe_dump(tests), encoding="utf-8")
    tested = promtool("test", "rules", "test.yml", cwd=folder)
    assert tested.returncode == 0, tested.stdout + tested.stderr


@pytest.fixture
def exported(pcscd, tmp_path):
    """One scrape of a kiosk in trouble, and whether it still answered once stopped."""
    with simulated_kiosk() as sim:
        config = sim.config.changed(metrics={"exporter": "http", "port": 0, "disk_low_bytes": 2**62})
        core = sim.kiosk_core(config).start()
        try:
            url = f"http://127.0.0.1:{core.metrics.port}/metrics"
            sim.receipt_printer.set_state(paper_out=True, paper_near_end=True)
            sim.card_printer.ribbon_remaining = 12
            sim.pin_pad.unplugged = True
            # A job the backend refuses for good (no such card): a dead letter.
            core.outbox.enqueue("record_pin_event", {"card_id": "371300D156000005" + "0" * 16, "event": "changed",
                                                     "at": "2026-11-30T08:00:00Z"}, subject="test")
            deadline = time.monotonic() + 20
            while core.outbox.stats().dead == 0 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert core.outbox.stats().dead == 1
            # The network cut, a loss report queued two hours ago is still waiting.
            sim.cut_network()
            job = core.outbox.enqueue("report_loss", {"card_id": "371300D15600000500BF7C7A48FB4966",
                                                      "kind": "temporary"}, subject="test")
            with core.outbox.transaction() as tx:
                tx.execute("UPDATE outbox_jobs SET created_at = created_at - 7200 WHERE id = ?", (job.id,))
            text = scrape(url)
        finally:
            core.close()
        assert text is not None
        return text, scrape(url)


def test_each_alert_fires_from_what_the_kiosk_exports(exported, tmp_path):
    text, after_stop = exported
    assert after_stop is None   # the stopped kiosk answers no scrape
    rules_without_annotations(tmp_path)
    up = {"series": selector("up", {"job": "sscard-kiosk", "instance": "kiosk-1"}),
          "values": f"1x{SCRAPES - 1} 0x{SILENT_SCRAPES}"}
    passes(tmp_path, input_series(text) + [up], [
        {"eval_time": "30m", "alertname": "KioskPaperOut", "exp_alerts": [firing("warning")]},
        {"eval_time": "30m", "alertname": "KioskRibbonLow", "exp_alerts": [firing("warning")]},
        {"eval_time": "30m", "alertname": "KioskDeadLetters", "exp_alerts": [firing("warning")]},
        {"eval_time": "30m", "alertname": "KioskOutboxStuck", "exp_alerts": [firing("warning")]},
        {"eval_time": "30m", "alertname": "KioskDiskLow", "exp_alerts": [firing("critical")]},
        {"eval_time": "30m", "alertname": "KioskDeviceFault", "exp_alerts": [
            firing("warning", device="pin_pad", state="fault"),
            firing("warning", device="receipt_printer", state="fault")]},
        {"eval_time": "30m", "alertname": "KioskSilent", "exp_alerts": []},
        {"eval_time": "80m", "alertname": "KioskSilent", "exp_alerts": [firing("critical")]},
    ])


def test_a_kiosk_that_died_behind_node_exporters_textfile_collector_is_silent(pcscd, tmp_path):
    textfile = tmp_path / "sscard_kiosk.prom"
    with simulated_kiosk() as sim:
        config = sim.config.changed(metrics={"exporter": "textfile", "textfile": str(textfile), "interval_s": 1.0})
        core = sim.kiosk_core(config).start()
        try:
            deadline = time.monotonic() + 10
            while not textfile.exists() and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            core.close()
    died_at = time.time()
    # node_exporter serves the file the dead kiosk left for the next hour (its up stays 1).
    rules_without_annotations(tmp_path)
    passes(tmp_path, input_series(textfile.read_text(), job="node", made_at=died_at), [
        {"eval_time": "10m", "alertname": "KioskMetricsStale", "exp_alerts": []},
        {"eval_time": "20m", "alertname": "KioskMetricsStale", "exp_alerts": [firing("critical", job="node")]},
    ])
