"""Colours and sizes shared by every screen: large type for a lobby, seen from a step away."""
from kivy.metrics import dp, sp

BACKGROUND = (0.96, 0.97, 0.99, 1)
TITLE = (0.05, 0.25, 0.55, 1)
TEXT = (0.1, 0.1, 0.12, 1)
MUTED = (0.4, 0.42, 0.48, 1)
WARNING = (0.75, 0.2, 0.1, 1)
CARD_FACE = (0.12, 0.42, 0.78, 1)
CARD_CHIP = (0.93, 0.78, 0.35, 1)
SLOT = (0.2, 0.2, 0.25, 1)
PANEL = (1, 1, 1, 1)

TITLE_SIZE = sp(48)
SUBTITLE_SIZE = sp(22)
PROMPT_SIZE = sp(40)
BODY_SIZE = sp(28)
FIELD_SIZE = sp(34)
ROW_HEIGHT = dp(64)
