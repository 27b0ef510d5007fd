"""The person's photo as the backend's registry sends it: base64 of a JPEG. It serves the face
check (kiosk/identity_assurance.py) and the face of a card made on the spot (kiosk/card_face.py).

A hostile or broken reply is a typed error before anything is done with it: the header is read
first, so that a "photo" of a hundred million pixels is refused without being decoded. The
photo is personal data: it lives in memory for the visit's use and is never logged or written.
"""
from __future__ import annotations

import base64
import binascii
import io

from PIL import Image, UnidentifiedImageError

MAX_PHOTO_PIXELS = 4_000_000   # a registry photo is 358x441; a bigger "photo" is not one
MIN_PHOTO_SIDE = 64            # smaller than this holds no face worth printing or matching


class RegistryPhotoInvalid(ValueError):
    """The backend's photo is not a JPEG of a sane size; str() names what it is, not its bytes."""


def decode_registry_photo(encoded: object) -> Image.Image:
    """The registry's photo as an RGB image, or RegistryPhotoInvalid."""
    if not isinstance(encoded, str):
        raise RegistryPhotoInvalid(f"the photo is not base64 text but {type(encoded).__name__}")
    try:
        raw = base64.b64decode(encoded, validate=True)
        with Image.open(io.BytesIO(raw)) as image:
            if image.format != "JPEG":
                raise RegistryPhotoInvalid(f"the photo is a {image.format}, not a JPEG")
            if image.width * image.height > MAX_PHOTO_PIXELS or min(image.size) < MIN_PHOTO_SIDE:
                raise RegistryPhotoInvalid(f"the photo is {image.width}x{image.height} pixels")
            return image.convert("RGB")
    except (binascii.Error, UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise RegistryPhotoInvalid(f"the photo is not a JPEG: {type(exc).__name__}") from None
