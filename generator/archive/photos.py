"""Photos: resized, EXIF removed, named by content hash.

Phone photos of a home carry its GPS position and the phone's make in EXIF;
nothing of that may reach the site or a booklet. File names are hashes, so a
teacher's file name (which may hold a name) never reaches a URL. Prepared
photos are cached by content hash, so a rebuild does not re-encode them.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

from PIL import Image, ImageOps

from generator.core.files import write_atomic

MAX_SIDE = 1600
QUALITY = 82


def photo_name(data: bytes) -> str:
    """The published file name: a hash of the original bytes."""
    return hashlib.sha256(data).hexdigest()[:20] + ".jpg"


def prepare(data: bytes, max_side: int = MAX_SIDE) -> bytes:
    """Return a JPEG of at most ``max_side`` pixels a side, with no metadata.

    The EXIF orientation is applied first, so the picture stands the right
    way up once the tag is gone.
    """
    with Image.open(io.BytesIO(data)) as opened:
        img = ImageOps.exif_transpose(opened).convert("RGB")
        img.thumbnail((max_side, max_side))
        out = io.BytesIO()
        img.save(out, "JPEG", quality=QUALITY, optimize=True)  # no exif= argument: none written
        return out.getvalue()


def prepared(path: Path, cache_dir: Path) -> tuple[str, Path]:
    """(published name, path of the prepared copy in ``cache_dir``) for the photo at ``path``."""
    data = path.read_bytes()
    name = photo_name(data)
    cached = cache_dir / name
    if not cached.is_file():
        write_atomic(cached, prepare(data), replace=True, sync=False)  # workers may race: both write the same
    return name, cached
