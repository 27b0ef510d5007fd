"""The kiosk's logging: one line per record on stderr (journald stores it under the unit), as
JSON lines in the field or as plain text at a desk, with personal data redacted.

Personal data is never logged on purpose (DESIGN.md): card holders' names and ID numbers stay
out of log calls, and personal records keep them out of their repr. The filter here is the
second line: whatever a message, its arguments or a traceback carries, an ID-number-shaped run
and any long run of digits (bank card numbers, phone numbers, a PIN typed into the wrong
field next to other digits) are masked before a handler sees them.
"""
from __future__ import annotations

import datetime
import json
import logging
import re
import sys
import traceback

from kiosk.masking import mask_id_number

# An 18-character resident ID number (17 digits and a check character), not part of a longer run.
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])[1-9][0-9]{16}[0-9Xx](?![0-9A-Za-z])")
# A card identifier (卡识别码: region, RID D156000005, serial) names a card, not a person, and
# staff need it to trace a card through the logs: kept whole.
_CARD_IDENTIFIER = re.compile(r"([0-9]{6}D156000005[0-9A-Fa-f]{16})")
# Ten digits or more: bank card numbers, mobile numbers, a 15-digit first-generation ID number.
_LONG_DIGITS = re.compile(r"(?<![0-9])[0-9]{10,}(?![0-9])")


def redact(text: str) -> str:
    """`text` with ID numbers masked as on receipts (`3713**********123X`) and other runs of
    ten or more digits kept only by their last four (`******1234`); card identifiers stay."""
    pieces = _CARD_IDENTIFIER.split(text)  # odd positions hold the identifiers themselves
    for i in range(0, len(pieces), 2):
        piece = _ID_NUMBER.sub(lambda m: mask_id_number(m.group()), pieces[i])
        pieces[i] = _LONG_DIGITS.sub(lambda m: "*" * (len(m.group()) - 4) + m.group()[-4:], piece)
    return "".join(pieces)


class RedactingFilter(logging.Filter):
    """Replaces a record's message (arguments merged in) and its traceback by redacted text."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class JsonLinesFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, thread, message and,
    when there is one, the traceback. journald keeps each line as one entry."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.datetime.fromtimestamp(record.created, datetime.timezone.utc).isoformat(
                timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "thread": record.threadName,
            "msg": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(json_lines: bool, level: int | str = logging.INFO, stream=None) -> logging.Handler:
    """Sends every log record of the process through the redacting filter to `stream` (stderr
    by default), replacing handlers set up before. Returns the handler."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonLinesFormatter() if json_lines else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level)
    return handler
