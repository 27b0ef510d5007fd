"""The driver against the simulated printer, through the real parts: TCP on loopback for the
printer, pcscd + vpcd for the contact station."""
import datetime
import socket
import threading
import time

import pytest
from PIL import Image

from drivers.card_printer import (CardJam, CardPosition, CardPrinter, CardPrinterCancelled, CardPrinterError,
                                  CardPrinterOffline, CoverOpen, HopperEmpty, MalformedReply, NoCardInPrinter,
                                  RejectBinFull, RibbonOut)
from drivers.pcsc import CardConnection, wait_for_card
from drivers.sim.card_printer import CARD_RID
from drivers.sim.pcscd import CARD_READER
from drivers.apdu import ApduChannel
from drivers.ssse import SocialSecurityCard
from kiosk.card_face import compose_face

FACE = compose_face("张三", "371302198001011239", "M12345678", datetime.date(2026, 11, 26),
                    Image.new("RGB", (358, 441), (120, 140, 160)))


def read_blank_identifier(reader: str) -> str:
    with CardConnection(reader) as connection:
        card = SocialSecurityCard(ApduChannel(connection), connection.atr, None)
        card.select()
        return card.blank_identifier().hex


def test_a_blank_reaches_the_encoder_is_printed_and_handed_out(printer, printer_sim):
    atr = printer.feed_to_encoder()
    with CardConnection(CARD_READER) as connection:
        assert connection.atr == atr and atr
    identifier = read_blank_identifier(CARD_READER)
    card = printer_sim.cards[-1]
    assert identifier == card.identifier.hex().upper() and CARD_RID.hex().upper() in identifier
    assert printer.status().card_position is CardPosition.CONTACT

    printer.print_face(FACE)
    assert printer.status().card_position is CardPosition.PRINT  # off the contact station now
    [png] = card.faces
    with Image.open(png) as printed:
        assert printed.size == (1011, 638)
        assert printed.convert("RGB").tobytes() == FACE.tobytes()  # y/m/c panels lose nothing

    printer.eject()
    assert card.place == "ejected"
    assert wait_for_card(CARD_READER, timeout=0.5, present=False) == b""
    status = printer.status()
    assert status.card_position is CardPosition.NONE
    assert status.ribbon_remaining == status.ribbon_capacity - 1 and printer_sim.stock == 4


def test_a_retained_card_is_recorded_as_retained(printer, printer_sim):
    printer.feed_to_encoder()
    printer.retain()  # straight from the encoder, as after a failed personalisation
    assert printer_sim.cards[-1].place == "retained" and not printer_sim.cards[-1].faces
    wait_for_card(CARD_READER, timeout=0.5, present=False)
    printer.feed_to_encoder()  # the encoder is free for the next blank at once
    assert printer_sim.cards[-1].place == "encoder" and len(printer_sim.cards) == 2
    printer.retain()


def test_status_reports_stock_ribbon_and_cover(printer, printer_sim):
    status = printer.status()
    assert status.feeder_loaded and not status.cover_open and not status.reject_box_full
    assert status.ribbon_capacity == status.ribbon_remaining == 250 and status.faults() == []
    printer_sim.stock, printer_sim.cover_open, printer_sim.reject_box_full = 0, True, True
    printer_sim.ribbon_installed = False
    status = printer.status()
    assert status.ribbon_capacity is None and status.ribbon_remaining is None
    assert [type(fault) for fault in status.faults()] == [HopperEmpty, RibbonOut, CoverOpen, RejectBinFull]


def test_hopper_empty(printer, printer_sim):
    printer_sim.stock = 0
    with pytest.raises(HopperEmpty, match="Sis.*DEF_FEEDER_EMPTY"):
        printer.feed_to_encoder()


def test_cover_open(printer, printer_sim):
    printer_sim.cover_open = True
    with pytest.raises(CoverOpen):
        printer.feed_to_encoder()
    assert printer_sim.stock == 5


def test_ribbon_out_at_print_then_the_card_can_still_be_retained(printer, printer_sim):
    printer.feed_to_encoder()
    printer_sim.ribbon_remaining = 0
    with pytest.raises(RibbonOut, match="DEF_RIBBON_ENDED"):
        printer.print_face(FACE)
    printer.retain()
    assert printer_sim.cards[-1].place == "retained"


@pytest.mark.parametrize("step", ["feed", "print", "eject"])
def test_a_jam_at_each_step(printer, printer_sim, step):
    printer_sim.jam_at = step
    with pytest.raises(CardJam, match="ERR_MECHANICAL"):
        printer.feed_to_encoder()
        printer.print_face(FACE)
        printer.eject()
    assert printer_sim.cards[-1].place == "jammed"
    with pytest.raises(CardPrinterError, match="already inside"):  # staff must clear it first
        printer.feed_to_encoder()


def test_reject_box_full_and_nothing_to_retain(printer, printer_sim):
    with pytest.raises(NoCardInPrinter):
        printer.retain()
    printer.feed_to_encoder()
    printer_sim.reject_box_full = True
    with pytest.raises(RejectBinFull):
        printer.retain()
    printer_sim.reject_box_full = False
    printer.retain()


def test_a_printer_that_stops_answering_fails_within_the_timeout(printer, printer_sim):
    printer.status()
    printer_sim.silent = True
    started = time.monotonic()
    with pytest.raises(CardPrinterOffline, match="no answer to Rrt within 1 s"):
        printer.status()
    assert time.monotonic() - started < printer.reply_timeout + 0.5
    printer_sim.silent = False
    assert printer.status().feeder_loaded  # a fresh connection: no stale reply in the way


def test_a_movement_slower_than_its_timeout_is_offline(printer, printer_sim):
    printer_sim.delay = 1.5
    started = time.monotonic()
    with pytest.raises(CardPrinterOffline, match="Sis within 0.5 s"):
        printer.feed_to_encoder(timeout=0.5)
    assert time.monotonic() - started < 1.2
    time.sleep(1.2)  # let the simulator finish the movement before teardown
    printer_sim.delay = 0
    printer.retain()


def test_cancel_while_the_card_moves(printer, printer_sim):
    printer_sim.delay = 1.0
    cancel = threading.Event()
    threading.Timer(0.2, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(CardPrinterCancelled):
        printer.feed_to_encoder(cancel)
    assert time.monotonic() - started < 0.6
    time.sleep(1.0)
    printer_sim.delay = 0
    printer.retain()


def test_nobody_listening_is_offline(pcscd):
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]  # free once the probe closes
    with pytest.raises(CardPrinterOffline, match="cannot connect"):
        CardPrinter(port=port, connect_timeout=0.5).status()


@pytest.mark.parametrize("garbage", [b"\xff\xfe\r", b"OK\rOK\r", b"A" * 300, b"\r", b"5.00 V\r"])
def test_a_garbled_reply_is_malformed(garbage):
    with socket.create_server(("127.0.0.1", 0)) as server:
        def answer():
            conn, _ = server.accept()
            with conn:
                conn.recv(64)
                conn.sendall(garbage)
                conn.recv(64)  # hold the connection until the driver gives up
        threading.Thread(target=answer, daemon=True).start()
        with CardPrinter(port=server.getsockname()[1], reply_timeout=1.0) as driver:
            with pytest.raises(MalformedReply):
                driver.status()


def test_a_face_of_the_wrong_size_is_refused_before_anything_moves(printer, printer_sim):
    with pytest.raises(ValueError, match="1011x638"):
        printer.print_face(Image.new("RGB", (1016, 648)))
    assert printer_sim.cards == []
