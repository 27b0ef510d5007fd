"""Line breaking as it is typeset (no Kivy here: the Typeset mixin in widgets.py uses it, and
the render test checks every real screen with `faults`).

The rules, in both languages: no wrapped line starts with closing punctuation (GB/T 15834,
and English's own); no paragraph ends in a line holding a single character (a lone "办" under
"一次"); no English word or number is broken inside (Kivy breaks a word that does not fit its
line; the label is set smaller instead).

A label's lines are given as `lines` (the text of each drawn line) and `wrapped` (True where
line i continues the same paragraph on line i+1, a soft wrap; False where it ends a paragraph).
"""
from __future__ import annotations

# Chinese typesetting (GB/T 15834) never starts a line with these (nor does English).
CLOSING_PUNCTUATION = frozenset("。，、；：？！）》」』】”’….,;:?!)")


def _is_word_char(char: str) -> bool:
    """A character of an English word or a number: one that must not be split from its neighbour."""
    return char.isascii() and char.isalnum()


def broken_word(lines: list[str], wrapped: list[bool]) -> int | None:
    """The index of the first line whose last word continues on the next line, or None."""
    for i in range(len(lines) - 1):
        if wrapped[i] and lines[i][-1:] and lines[i + 1][:1] and \
                _is_word_char(lines[i][-1]) and _is_word_char(lines[i + 1][0]):
            return i
    return None


def faults(lines: list[str], wrapped: list[bool]) -> list[str]:
    """What breaks the rules in these lines, in words for a test's report."""
    found = []
    for i in range(1, len(lines)):
        if wrapped[i - 1] and lines[i][:1] in CLOSING_PUNCTUATION:
            found.append(f"line {i + 1} starts with {lines[i][:1]!r}")
        if wrapped[i - 1] and len(lines[i].strip()) == 1:
            found.append(f"line {i + 1} holds one character, {lines[i].strip()!r}")
    if (i := broken_word(lines, wrapped)) is not None:
        found.append(f"a word is broken between {lines[i]!r} and {lines[i + 1]!r}")
    return found


def mend(lines: list[str], wrapped: list[bool]) -> str | None:
    """The lines joined by hard breaks, mended where a line would start with closing punctuation
    (the character before it goes down with it) or a paragraph would end in a single character
    (the character before it goes down too, if it is not part of an English word); None when
    nothing needs mending. A broken word is not mended here: the label is set smaller."""
    lines = list(lines)
    changed = False
    for i in range(1, len(lines)):
        if not wrapped[i - 1]:
            continue
        while lines[i][:1] in CLOSING_PUNCTUATION and len(lines[i - 1]) > 1:
            lines[i - 1], lines[i] = lines[i - 1][:-1], lines[i - 1][-1] + lines[i]
            changed = True
        last_of_paragraph = i == len(lines) - 1 or not wrapped[i]
        before = lines[i - 1].rstrip()
        if last_of_paragraph and len(lines[i].strip()) == 1 and len(before) > 2 and not _is_word_char(before[-1]):
            lines[i - 1], lines[i] = before[:-1], before[-1] + lines[i].strip()
            changed = True
    return "\n".join(lines) if changed else None


def keep_punctuation_off_line_starts(lines: list[str]) -> str | None:
    """`mend` for lines that all wrap softly."""
    return mend(lines, [True] * len(lines))
