"""Every exit code of the `kiosk` command line, in one table.

A code tells a script what happened without reading stderr. The low codes mean one thing
everywhere; 3 to 11 are read with the command group that returned them.
"""
from __future__ import annotations

OK = 0
FAILED = 1              # not done: a service refused or failed, a device fault, an audit trail tampered with
USAGE = 2               # bad arguments, a configuration refused, an unsafe file

# kiosk card ...
NO_READER = 3           # no card reader, or pcscd not running
NO_CARD = 4
CARD_REMOVED = 5        # the card was pulled out mid-command
NOT_SSCARD = 6          # not a (readable) social security card
AUTH_FAILED = 7         # no security module, or the card refused the cryptogram
WRONG_PIN = 8
PIN_BLOCKED = 9
PIN_REFUSED = 10        # the PIN's format, or a weak PIN

# kiosk service ...
NO_IDENTITY = 11        # the action needs the resident ID card (no ID reader) or a face check that could not pass

# kiosk diag ...
NOT_RESPONDING = 3      # port missing, device silent or not taking data, garbled answers
NOT_READY = 4           # printer: paper out, cover open, fault; ID reader: no card on it
CARD_REFUSED = 5        # ID card read but not usable: expired, invalid data, read failed

# kiosk audit / stats ...
UNREADABLE = 3          # the database or its key cannot be read
