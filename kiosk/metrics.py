"""The kiosk's metrics for Prometheus (#18), the engine a province's fleet already runs: each
device's state, the supplies, the disk, the outbox, and the services by item and outcome with
their durations (kiosk/stats.py). The alert rules that read them ship in deploy/prometheus/.

`[metrics] exporter` says how Prometheus gets them: `http` serves them on listen:port (a
scrape reads the statistics table and the last device findings, probing the devices at most
every interval_s and never while a citizen uses the kiosk); `textfile` rewrites a file for
node_exporter's textfile collector every interval_s (atomically: the collector never reads half
a file); `off` (the default) does neither.
"""
from __future__ import annotations

import datetime
import logging
import threading
import time
from typing import Iterable

from kiosk.health import State

log = logging.getLogger(__name__)


def _gauge(name: str, documentation: str, value: float, labels: dict | None = None):
    from prometheus_client.core import GaugeMetricFamily
    family = GaugeMetricFamily(name, documentation, labels=list(labels or {}))
    family.add_metric(list((labels or {}).values()), value)
    return family


class HealthCollector:
    """kiosk/health.py's snapshot as gauges, read when scraped."""

    def __init__(self, health, disk_low_bytes: int, max_age_s: float):
        self.health = health
        self.disk_low_bytes = disk_low_bytes
        self.max_age_s = max_age_s

    def collect(self) -> Iterable:
        from prometheus_client.core import GaugeMetricFamily
        snapshot = self.health.snapshot(self.max_age_s)
        states = GaugeMetricFamily("kiosk_device_state", "Each device's state: 1 for the one it is in (ok, warning, "
                                   "fault; absent: not fitted)", labels=["device", "state"])
        for device, found in snapshot["devices"].items():
            for state in State:
                states.add_metric([device, str(state)], 1.0 if found["state"] == state else 0.0)
        yield states
        printer = snapshot["devices"].get("receipt_printer", {})
        if "paper" in printer:
            yield _gauge("kiosk_receipt_printer_paper_out", "1 when the receipt printer is out of paper",
                         1.0 if printer["paper"] == "out" else 0.0)
            yield _gauge("kiosk_receipt_printer_paper_near_end", "1 when the receipt paper is near its end (or out)",
                         0.0 if printer["paper"] == "ok" else 1.0)
        cards = snapshot["devices"].get("card_printer", {})
        if cards.get("ribbon_capacity"):
            yield _gauge("kiosk_card_printer_ribbon_remaining", "Card printer ribbon panels left",
                         float(cards.get("ribbon_remaining") or 0))
            yield _gauge("kiosk_card_printer_ribbon_capacity", "Card printer ribbon panels when new",
                         float(cards["ribbon_capacity"]))
        if "blank_cards" in cards:
            yield _gauge("kiosk_card_printer_blank_cards", "1 while the card printer's feeder holds blank cards",
                         1.0 if cards["blank_cards"] else 0.0)
            yield _gauge("kiosk_card_printer_reject_box_full", "1 when the card printer's reject box is full",
                         1.0 if cards.get("reject_box_full") else 0.0)
        disk = snapshot["disk"]
        yield _gauge("kiosk_disk_free_bytes", "Free space where the kiosk keeps its database", float(disk["free_bytes"]))
        yield _gauge("kiosk_disk_total_bytes", "Size of that filesystem", float(disk["total_bytes"]))
        yield _gauge("kiosk_disk_low_threshold_bytes", "[metrics] disk_low_bytes: free space under it is low",
                     float(self.disk_low_bytes))
        outbox = snapshot["outbox"]
        yield _gauge("kiosk_outbox_pending", "Jobs waiting for the backend", float(outbox["pending"]))
        yield _gauge("kiosk_outbox_oldest_pending_age_seconds", "Age of the oldest waiting job (0: none waits)",
                     float(outbox["oldest_pending_age_s"] or 0.0))
        yield _gauge("kiosk_outbox_dead", "Jobs the backend refused for good, waiting for staff", float(outbox["dead"]))
        if snapshot["probed_at"] is not None:
            yield _gauge("kiosk_devices_probed_timestamp_seconds", "When the devices were last probed (UNIX time)",
                         float(snapshot["probed_at"]))
        yield _gauge("kiosk_info", "The kiosk's software version", 1.0, {"version": snapshot["software_version"]})
        # node_exporter serves a textfile on after the kiosk that wrote it died: this stops moving.
        yield _gauge("kiosk_metrics_timestamp_seconds", "When the kiosk made these metrics (UNIX time)", time.time())


class _LiveStats:
    """The service statistics (kiosk/stats.py), read from the database at each scrape."""

    def __init__(self, core):
        self.core = core

    def collect(self) -> Iterable:
        from kiosk.stats import local_day
        with self.core.outbox.transaction() as tx:
            collector = self.core.stats.collector(tx, local_day(datetime.datetime.now(datetime.timezone.utc)))
        yield from collector.collect()


def registry_of(core):
    from prometheus_client import CollectorRegistry
    registry = CollectorRegistry()
    settings = core.config.metrics
    registry.register(HealthCollector(core.health, settings.disk_low_bytes, settings.interval_s))
    registry.register(_LiveStats(core))
    return registry


class MetricsExporter:
    """Serves or writes the kiosk's metrics, as `[metrics] exporter` says. `port` is the one
    served on (a port 0 in the configuration picks a free one)."""

    def __init__(self, core):
        self.core = core
        self.settings = core.config.metrics
        self.registry = None   # made on start: a kiosk that exports nothing never loads the library
        self.port: int | None = None
        self._server = None
        self._stop = threading.Event()
        self._writer: threading.Thread | None = None

    def start(self) -> "MetricsExporter":
        if self.settings.exporter != "off":
            self.registry = registry_of(self.core)
        if self.settings.exporter == "http":
            from prometheus_client import start_http_server
            self._server, _thread = start_http_server(self.settings.port, self.settings.listen, registry=self.registry)
            self.port = self._server.server_address[1]
            log.info("metrics served on %s:%d", self.settings.listen, self.port)
        elif self.settings.exporter == "textfile":
            self._writer = threading.Thread(target=self._write_every_interval, name="metrics-textfile", daemon=True)
            self._writer.start()
        return self

    def write_textfile(self) -> None:
        from prometheus_client import write_to_textfile
        write_to_textfile(self.settings.textfile, self.registry)   # a temporary file renamed over the old one

    def _write_every_interval(self) -> None:
        while True:
            try:
                self.write_textfile()
            except Exception:   # a full disk or a fault of ours: the kiosk serves on, staff see the log
                log.exception("metrics not written to %s", self.settings.textfile)
            if self._stop.wait(self.settings.interval_s):
                return

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._writer is not None:
            self._writer.join(5)
