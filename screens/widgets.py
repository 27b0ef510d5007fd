"""Widgets every screen uses (rules in widgets.kv): labels and buttons typeset by the rules of
screens/typesetting.py, icons, the header on every screen with the step indicator and the
countdown, and the animated prompt to insert a card."""
from __future__ import annotations

from pathlib import Path

from kivy.animation import Animation
from kivy.app import App
from kivy.lang import Builder
from kivy.properties import ListProperty, NumericProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.label import Label
from kivy.uix.widget import Widget

from kiosk.i18n import _
from screens.icons import icon
from screens.theme import smaller_text_size
from screens.typesetting import broken_word, mend

SMALLEST = 0.7    # to keep a word whole, a label is set no smaller than this share of its size


def drawn_lines(core_label) -> tuple[list[str], list[bool]]:
    """A Kivy core label's lines as last laid out: each line's text, and whether it wraps into
    the next (the `lines` and `wrapped` of screens/typesetting.py)."""
    lines = core_label._cached_lines
    return ["".join(word.text for word in line.words) for line in lines], [not line.is_last_line for line in lines]


class Typeset:
    """Kivy wraps Chinese (which has no spaces) after whatever character fills the line, and
    breaks an English word that does not fit a line; here the typesetting rules are kept:
    the character before a closing mark or a lone last character goes down with it, and a
    label whose word would break is set a little smaller. `text` keeps what was written:
    only the drawn text changes."""

    def texture_update(self, *largs):
        self._label.text = self.text   # a new width wraps the text as written, not as last drawn
        self._label.options["font_size"] = self.font_size
        super().texture_update(*largs)
        if self.markup or not self.text:
            return
        while broken_word(*self._drawn_lines(), self._label.text) is not None:
            # Down the theme's type scale: each size is a font Kivy opens and keeps (theme.py).
            smaller = smaller_text_size(self._label.options["font_size"])
            if smaller is None or smaller < self.font_size * SMALLEST:
                break
            self._label.options["font_size"] = smaller
            super().texture_update(*largs)
        for _pass in range(3):   # a character moved down can push a later break; each pass settles one
            mended = mend(*self._drawn_lines())
            if mended is None:
                return
            self._label.text = mended
            super().texture_update(*largs)

    def _drawn_lines(self) -> tuple[list[str], list[bool]]:
        return drawn_lines(self._label)


class KioskLabel(Typeset, Label):
    pass


class TypesetButton(Typeset, Button):
    # Which of the theme's button colours (widgets.kv KioskButton): "primary", "secondary", or
    # "chosen". One rule picks from it: a derived rule binding the colour again would race the
    # base rule's binding when the mode changes (whichever colour the theme sets last wins).
    tone = StringProperty("primary")


class Icon(Label):
    """An icon from the icon font (screens/icons.py), by name."""

    name_of_icon = StringProperty("")

    def on_name_of_icon(self, _instance, name: str) -> None:
        self.text = icon(name)


class StepChip(BoxLayout):
    """One step: its number in a circle (a tick once done) and its name."""

    number = StringProperty("")
    words = StringProperty("")
    state = StringProperty("todo")   # done, current, todo


class StepIndicator(BoxLayout):
    """The service's steps in a row: done ones ticked, the current one filled, the rest grey."""

    steps = ListProperty([])
    current = NumericProperty(-1)

    def on_kv_post(self, base_widget):
        app = App.get_running_app()
        app.bind(lang=lambda *_a: self._build())
        self.bind(steps=lambda *_a: self._build(), current=lambda *_a: self._build())
        self._build()

    def _build(self) -> None:
        self.clear_widgets()
        for index, step in enumerate(self.steps):
            state = "done" if index < self.current else "current" if index == self.current else "todo"
            self.add_widget(StepChip(number=str(index + 1), words=_(step), state=state))


class ScreenHeader(BoxLayout):
    """The top of every screen: the service (a message id), this terminal, the 12333 hotline and
    the time; during a service its steps, the current one, and the seconds left before the
    visit ends untouched (-1: no countdown). There is one, moved by the app into the HeaderSlot
    of the screen on show (KioskApp.show_header): a header on each of eighteen screens cost
    28 MB of labels and redrew eighteen countdowns a second."""

    service_title = StringProperty("")
    terminal = StringProperty("")
    clock_text = StringProperty("")
    steps = ListProperty([])
    step_index = NumericProperty(-1)
    seconds_left = NumericProperty(-1)


class HeaderSlot(BoxLayout):
    """Where a screen shows the header: as tall as the header while it holds it, and as tall
    as it last was after (the screen leaving keeps its layout while it fades out)."""

    def hold(self, header: ScreenHeader) -> None:
        if header.parent is self:
            return
        if header.parent is not None:
            header.parent.let_go(header)
        self.add_widget(header)
        header.bind(height=self.setter("height"))
        self.height = header.height

    def let_go(self, header: ScreenHeader) -> None:
        header.unbind(height=self.setter("height"))
        self.remove_widget(header)


class InsertCardPrompt(Widget):
    """A card that slides down into the slot, again and again, while the kiosk waits for it."""

    offset = NumericProperty(0)

    def start(self) -> None:
        """Runs only while its screen is shown: an animation redraws every frame, and an idle
        kiosk must not spend a core on a screen nobody sees."""
        self.stop()
        self._slide = Animation(offset=-48, duration=1.2, t="in_out_quad") + Animation(offset=0, duration=0.6)
        self._slide.repeat = True
        self._slide.start(self)

    def stop(self) -> None:
        Animation.cancel_all(self)
        self.offset = 0


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
