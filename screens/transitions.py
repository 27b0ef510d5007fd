"""The kiosk's screen change: a short cross-fade without offscreen buffers.

Kivy's FadeTransition renders both screens into two new full-screen Fbos (colour and
stencil) on every screen change. Under Mesa's software renderer those live in the kiosk's
own memory (about 16 MB a change at 1280x800), and the Fbos sit in reference cycles until a
full garbage collection: bench/ui.py measured some 100 MB of them after the demo's visits.
Every screen draws its own opaque background (KioskScreen in widgets.kv), so raising the
incoming screen's opacity from 0 to 1 over the outgoing one gives the same fade with no
buffer at all.
"""
from __future__ import annotations

from kivy.uix.screenmanager import TransitionBase


class CrossFade(TransitionBase):
    def on_progress(self, progress: float) -> None:
        self.screen_in.opacity = progress

    def on_complete(self) -> None:
        self.screen_in.opacity = 1.0
        super().on_complete()
