"""Masking personal data for screens, receipts and the diagnostics command line.

Every masker keeps just enough for the holder to recognise their own data. The ID number
masker lives beside the card records (drivers/ssse_records.py); it is gathered here so callers
need one import.
"""
from __future__ import annotations

from drivers.ssse_records import mask_id_number

__all__ = ["mask_id_number", "mask_name", "mask_card_number", "mask_address"]


def mask_name(name: str) -> str:
    """张三 -> 张*: the first character is enough for the holder to recognise."""
    return name[:1] + "*" * (len(name) - 1)


def mask_card_number(number: str) -> str:
    """`X00000019` -> `X00****19`: the 9-character social security card number, three
    characters kept in front (letter and region) and two at the end."""
    if len(number) <= 5:
        return "*" * len(number)
    return number[:3] + "*" * (len(number) - 5) + number[-2:]


def mask_address(address: str, keep: int = 6) -> str:
    """`山东省临沂市兰山区…` -> `山东省临沂市****`: the province and city, not the street."""
    address = address.strip()
    if len(address) <= keep:
        return "*" * len(address)
    return address[:keep] + "****"
