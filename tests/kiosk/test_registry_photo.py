"""The backend's photo of a person (kiosk/registry_photo.py): a JPEG of a sane size is taken; a
hostile or broken one is a typed error that names what it is, never a crash or a huge decode."""
from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from kiosk.registry_photo import RegistryPhotoInvalid, decode_registry_photo


def encoded(size, image_format="JPEG") -> str:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 180, 160)).save(out, image_format)
    return base64.b64encode(out.getvalue()).decode("ascii")


def test_a_registry_photo_is_decoded():
    photo = decode_registry_photo(encoded((358, 441)))
    assert photo.size == (358, 441) and photo.mode == "RGB"


@pytest.mark.parametrize("payload, named", [
    ("not base64!", "not a JPEG"),
    ("aGVsbG8=", "not a JPEG"),                      # "hello"
    (encoded((358, 441), "PNG"), "a PNG"),
    (encoded((2100, 2000)), "2100x2000"),           # a "photo" far bigger than any registry's
    (encoded((40, 50)), "40x50"),                   # too small to hold a face
    (12345, "but int"),
    (None, "but NoneType"),
])
def test_a_hostile_registry_photo_is_a_typed_error(payload, named):
    with pytest.raises(RegistryPhotoInvalid, match=named):
        decode_registry_photo(payload)
