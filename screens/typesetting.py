"""Line breaking for Chinese as it is typeset (no Kivy here: KioskLabel in widgets.py uses it)."""
from __future__ import annotations

# Chinese typesetting (GB/T 15834) never starts a line with these (nor does English).
CLOSING_PUNCTUATION = frozenset("。，、；：？！）》」』】”’….,;:?!)")


def keep_punctuation_off_line_starts(lines: list[str]) -> str | None:
    """The wrapped `lines` joined by hard breaks, with each line that starts with closing
    punctuation given the character(s) before it; None when no line needs it."""
    lines = list(lines)
    changed = False
    for i in range(1, len(lines)):
        while lines[i][:1] in CLOSING_PUNCTUATION and len(lines[i - 1]) > 1:
            lines[i - 1], lines[i] = lines[i - 1][:-1], lines[i - 1][-1] + lines[i]
            changed = True
    return "\n".join(lines) if changed else None
