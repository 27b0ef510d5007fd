"""Line breaking as it is typeset (no Kivy here: the Typeset mixin in widgets.py uses it, and
the render test checks every real screen with `faults`).

The rules, in both languages: no wrapped line starts with closing punctuation (GB/T 15834,
and English's own); no paragraph ends in a line holding a single character, its closing marks
aside (a lone "办" under "一次", or "码。"); no English word or number is broken inside (Kivy breaks a word that does not fit its
line; the label is set smaller instead).

A label's lines are given as `lines` (the text of each drawn line) and `wrapped` (True where
line i continues the same paragraph on line i+1, a soft wrap; False where it ends a paragraph).
Kivy drops the space at a soft wrap, so a broken word is told from a break between words by
`text`, what the lines were drawn from.
"""
from __future__ import annotations

# Chinese typesetting (GB/T 15834) never starts a line with these (nor does English).
CLOSING_PUNCTUATION = frozenset("。，、；：？！）》」』】”’….,;:?!)")


def _lone(line: str) -> bool:
    """A line of one character, its closing marks aside: "办", "码。"."""
    return len(line.strip().rstrip("".join(CLOSING_PUNCTUATION))) == 1


def _is_word_char(char: str) -> bool:
    """A character of an English word or a number: one that must not be split from its neighbour."""
    return char.isascii() and char.isalnum()


def broken_word(lines: list[str], wrapped: list[bool], text: str) -> int | None:
    """The index of the first line whose last word continues on the next line, or None. Kivy
    drops the space where it wraps between words, so the break is looked up in `text`, the text
    the lines were drawn from."""
    at = 0
    for i, line in enumerate(lines[:-1]):
        found = text.find(line, at)
        if found < 0:
            return None
        at = found + len(line)
        following = lines[i + 1][:1]
        if wrapped[i] and line and following and _is_word_char(line[-1]) and _is_word_char(following) \
                and text[at:at + 1] == following:
            return i
    return None


def faults(lines: list[str], wrapped: list[bool], text: str) -> list[str]:
    """What breaks the rules in these lines (drawn from `text`), in words for a test's report."""
    found = []
    for i in range(1, len(lines)):
        if wrapped[i - 1] and lines[i][:1] in CLOSING_PUNCTUATION:
            found.append(f"line {i + 1} starts with {lines[i][:1]!r}")
        if wrapped[i - 1] and _lone(lines[i]):
            found.append(f"line {i + 1} holds one character, {lines[i].strip()!r}")
    if (i := broken_word(lines, wrapped, text)) is not None:
        found.append(f"a word is broken between {lines[i]!r} and {lines[i + 1]!r}")
    return found


def mend(lines: list[str], wrapped: list[bool]) -> str | None:
    """The lines joined by hard breaks, mended where a line would start with closing punctuation
    (the character before it goes down with it) or a paragraph would end in a single character,
    its closing marks aside (the character before it goes down too, or the whole word it ends); None when
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
        cut = len(before) - 1
        while cut > 0 and _is_word_char(before[cut]) and _is_word_char(before[cut - 1]):
            cut -= 1   # a word ("U" of "U盘") goes down whole
        if last_of_paragraph and _lone(lines[i]) and cut >= 2:
            lines[i - 1], lines[i] = before[:cut], before[cut:] + lines[i].strip()
            changed = True
    return "\n".join(lines) if changed else None


