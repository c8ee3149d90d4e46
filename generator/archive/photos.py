"""Photos: resized, every kind of metadata removed, named by content hash.

Phone photos of a home carry its GPS position and the phone's make in EXIF, and
a JPEG comment or an XMP packet can carry the same; nothing of that may reach the
site, a booklet or (through ``yidang intake``) git. So a prepared photo is made
from the pixels alone: a new image, converted to sRGB, with no comment, profile or
EXIF. Only JPEG, PNG and WebP are opened, and the size is judged from the header
before anything is decoded (a small PNG can unpack into gigabytes). File names are hashes, so a
teacher's file name (which may hold a name) never reaches a URL. Prepared
photos are cached by content hash, so a rebuild does not re-encode them.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

from generator.core.files import write_atomic

MAX_SIDE = 1600
QUALITY = 82
FORMATS = ("JPEG", "PNG", "WEBP")  # what phones and the site's form send; nothing else is decoded
MAX_PIXELS = 60_000_000  # the archive's photos (check says the same); intake allows fewer


class NotAPhoto(ValueError):
    """Not an image this project opens (``kind`` "not_image"), or too many pixels ("pixels")."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def photo_name(data: bytes) -> str:
    """The published file name: a hash of the original bytes."""
    return hashlib.sha256(data).hexdigest()[:20] + ".jpg"


def prepare(data: bytes, max_side: int = MAX_SIDE, max_pixels: int = MAX_PIXELS) -> bytes:
    """Return a JPEG of at most ``max_side`` pixels a side, made from the pixels alone.

    The EXIF orientation is applied first, so the picture stands the right way up once
    the tag is gone; a colour profile is applied (to sRGB) and then dropped. Raises
    :class:`NotAPhoto` for anything but a JPEG, PNG or WebP of at most ``max_pixels``.
    """
    from PIL import Image, ImageOps  # here: `check` imports this module for its limits only

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(data), formats=FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise NotAPhoto("pixels", f"too many pixels; at most {max_pixels:,}") from None
    except (OSError, ValueError, SyntaxError):
        raise NotAPhoto("not_image", "not a JPEG, PNG or WebP image") from None
    with opened:
        width, height = opened.size
        if width * height > max_pixels or not width or not height:
            raise NotAPhoto("pixels", f"{width}×{height} pixels; at most {max_pixels:,}")
        try:
            img = _srgb(ImageOps.exif_transpose(opened))
        except (OSError, ValueError, SyntaxError) as exc:
            raise NotAPhoto("not_image", f"damaged image ({type(exc).__name__})") from None
    img.thumbnail((max_side, max_side))
    clean = Image.new("RGB", img.size)  # a new image: no info, comment, profile or EXIF to carry
    clean.paste(img)
    out = io.BytesIO()
    clean.save(out, "JPEG", quality=QUALITY, optimize=True)
    return out.getvalue()


def _srgb(img: Image.Image) -> Image.Image:
    """The pixels in sRGB: an embedded colour profile (a phone's Display P3) applied, then gone."""
    profile = img.info.get("icc_profile")
    rgb = img.convert("RGB")
    if not profile:
        return rgb
    try:
        from PIL import ImageCms

        source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        converted = ImageCms.profileToProfile(rgb, source, ImageCms.createProfile("sRGB"), outputMode="RGB")
    except (OSError, ValueError, ImportError, ImageCms.PyCMSError):
        return rgb  # an unreadable profile: the pixels as they are, still without it
    return converted if converted is not None else rgb


def prepared(path: Path, cache_dir: Path) -> tuple[str, Path]:
    """(published name, path of the prepared copy in ``cache_dir``) for the photo at ``path``."""
    data = path.read_bytes()
    name = photo_name(data)
    cached = cache_dir / name
    if not cached.is_file():
        write_atomic(cached, prepare(data), replace=True, sync=False)  # workers may race: both write the same
    return name, cached
