"""Booklet fonts: the configured CJK faces cut down to the common characters, once.

Noto CJK is a collection of four 65,535-glyph faces in one 20-27 MB file.
WeasyPrint copies the whole file into memory for every face a booklet uses,
and subsets each of them out of all 65,535 glyphs (keeping glyph ids, so the
embedded font still counts them all). That was ~14 % of a booklet's work
(callgrind, a 39-page booklet in a warm worker: 8.37 G instructions against
7.18 G with these fonts) and made the PDF twice as large.

So before the booklets are rendered, each face the booklet uses (body and
heading family, regular and bold) is subset once with HarfBuzz to the
characters of GB 2312 and the punctuation and symbols around them (~7,800
characters; ~14,000 glyphs with the forms their layout features reach;
3.4-4.8 MB), renamed ``yidang <family>`` so it cannot be confused with
the installed face, and cached by the installed file's size and time. The
booklet's CSS lists it first and the installed family after it, so a
character outside GB 2312 (a rare character in a name) is drawn from the full
font: nothing is lost, that booklet only costs what it cost before. The
subset fonts reach WeasyPrint through a Fontconfig file that includes the
system's configuration and adds their folder (``FONTCONFIG_FILE``, read when a
WeasyPrint font configuration is made) — no ``@font-face``, which WeasyPrint
copies into a temporary folder it removes only when the interpreter tears
down.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from generator.core.files import write_atomic

log = logging.getLogger("yidang.booklets")

VERSION = "1"  # bump when the character set or the subsetting changes
PREFIX = "yidang "
WEIGHTS = ("regular", "bold")
CONF = "fonts.conf"

# Besides GB 2312 (6,763 hanzi and its symbols, below): ASCII and Latin-1, general
# punctuation, letterlike symbols and number forms, arrows, enclosed numbers (①),
# box drawing, CJK symbols and punctuation, fullwidth forms.
_RANGES = (
    (0x20, 0x7F),
    (0xA0, 0x180),
    (0x2000, 0x2070),
    (0x2100, 0x2200),
    (0x2460, 0x2500),
    (0x2500, 0x2600),
    (0x3000, 0x3040),
    (0xFF00, 0xFFF0),
)


def common_characters() -> str:
    """Every character of GB 2312, decoded from the codec (no table to ship), and _RANGES."""
    chars = {chr(c) for lo, hi in _RANGES for c in range(lo, hi)}
    for hi in range(0xA1, 0xF8):
        for lo in range(0xA1, 0xFF):
            with contextlib.suppress(UnicodeDecodeError):
                chars.add(bytes((hi, lo)).decode("gb2312"))
    return "".join(sorted(chars))


def subset_family(family: str) -> str:
    return PREFIX + family


# --- the installed faces ---------------------------------------------------------


def locate(family: str, weight: str) -> tuple[Path, int] | None:
    """The file and face index Fontconfig picks for ``family`` at ``weight``, if it is
    that family (fc-match always answers with something)."""
    try:
        out = subprocess.run(
            [
                "fc-match",
                "-f",
                "%{family}\t%{weight}\t%{file}\t%{index}",
                f"{family}:weight={_fc_weight(weight)}",
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return None
    parts = out.stdout.split("\t")
    if out.returncode != 0 or len(parts) != 4:
        return None
    families, fc_weight, file, index = parts
    if not index.isdigit() or family not in families.split(",") or fc_weight != str(_fc_weight(weight)):
        return None  # not installed, or no face of that weight (Pango would embolden)
    return Path(file), int(index)


def _fc_weight(weight: str) -> int:
    return {"regular": 80, "bold": 200}[weight]  # Fontconfig's FC_WEIGHT_REGULAR / _BOLD


# --- subsetting ------------------------------------------------------------------

_CDEF = """
typedef struct hb_blob_t hb_blob_t;
typedef struct hb_face_t hb_face_t;
typedef struct hb_set_t hb_set_t;
typedef struct hb_subset_input_t hb_subset_input_t;
typedef uint32_t hb_codepoint_t;
hb_blob_t *hb_blob_create_from_file_or_fail (const char *file_name);
void hb_blob_destroy (hb_blob_t *blob);
const char *hb_blob_get_data (hb_blob_t *blob, unsigned int *length);
hb_face_t *hb_face_create (hb_blob_t *blob, unsigned int index);
void hb_face_destroy (hb_face_t *face);
hb_blob_t *hb_face_reference_blob (hb_face_t *face);
void hb_set_add (hb_set_t *set, hb_codepoint_t codepoint);
hb_subset_input_t *hb_subset_input_create_or_fail (void);
void hb_subset_input_destroy (hb_subset_input_t *input);
hb_set_t *hb_subset_input_unicode_set (hb_subset_input_t *input);
hb_face_t *hb_subset_or_fail (hb_face_t *source, const hb_subset_input_t *input);
"""


def _harfbuzz() -> tuple[Any, Any, Any]:
    import cffi  # WeasyPrint's own binding layer

    ffi = cffi.FFI()
    ffi.cdef(_CDEF)
    return ffi, ffi.dlopen("libharfbuzz.so.0"), ffi.dlopen("libharfbuzz-subset.so.0")


def subset(path: Path, index: int, chars: str) -> bytes:
    """The face ``index`` of ``path`` with only the glyphs ``chars`` need (and what their
    layout features reach), as an OpenType file."""
    ffi, hb, hb_subset = _harfbuzz()
    blob = hb.hb_blob_create_from_file_or_fail(os.fsencode(path))
    if blob == ffi.NULL:
        raise OSError(f"HarfBuzz cannot read {path}")
    face = hb.hb_face_create(blob, index)
    plan = hb_subset.hb_subset_input_create_or_fail()
    try:
        unicodes = hb_subset.hb_subset_input_unicode_set(plan)
        for ch in chars:
            hb.hb_set_add(unicodes, ord(ch))
        result = hb_subset.hb_subset_or_fail(face, plan)
        if result == ffi.NULL:
            raise OSError(f"HarfBuzz could not subset {path} (face {index})")
        out = hb.hb_face_reference_blob(result)
        length = ffi.new("unsigned int *")
        data = ffi.unpack(hb.hb_blob_get_data(out, length), length[0])
        hb.hb_blob_destroy(out)
        hb.hb_face_destroy(result)
        return bytes(data)
    finally:
        hb_subset.hb_subset_input_destroy(plan)
        hb.hb_face_destroy(face)
        hb.hb_blob_destroy(blob)


def rename(font: bytes, family: str) -> bytes:
    """The font with its family called ``family`` in every name record, so Fontconfig
    files it under that name only (fontTools, which WeasyPrint already depends on)."""
    from fontTools.ttLib import TTFont

    tt = TTFont(io.BytesIO(font), lazy=True)
    table = tt["name"]
    style = (table.getDebugName(2) or "Regular").strip()
    postscript = "".join(ch for ch in f"{family}-{style}" if ch.isalnum() or ch == "-")
    names = {
        1: family,
        3: f"{postscript};{VERSION}",
        4: f"{family} {style}",
        6: postscript,
        16: family,
        17: style,
    }
    for record in table.names:
        if record.nameID in names:
            record.string = names[record.nameID]
    out = io.BytesIO()
    tt.save(out)
    return out.getvalue()


# --- the cache -------------------------------------------------------------------


def prepare(families: tuple[str, ...], cache: Path) -> Path | None:
    """Subset fonts for ``families`` under ``cache`` and a Fontconfig file adding them;
    returns the folder, or None when none could be made (the installed fonts then serve
    alone, as slowly as before — a booklet is never worse off)."""
    made = []
    for family in dict.fromkeys(families):
        for weight in WEIGHTS:
            found = locate(family, weight)
            if found is None:
                continue
            try:
                made.append(_cached(family, weight, *found, cache))
            except (OSError, ValueError, KeyError) as exc:
                log.warning("booklet fonts: using %s %s as installed (%s)", family, weight, exc)
    if not made:
        return None
    _write_conf(cache, made)
    return cache


def _cached(family: str, weight: str, path: Path, index: int, cache: Path) -> Path:
    stat = path.stat()
    key = f"{VERSION}|{family}|{weight}|{path}|{index}|{stat.st_size}|{stat.st_mtime_ns}"
    target = cache / f"{hashlib.sha256(key.encode()).hexdigest()[:20]}.otf"
    if target.is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    data = rename(subset(path, index, common_characters()), subset_family(family))
    write_atomic(target, data, replace=True, sync=False)
    log.info("booklet fonts: %s %s subset to %d KiB", family, weight, len(data) // 1024)
    return target


def _write_conf(folder: Path, fonts: list[Path]) -> None:
    """Fontconfig's own configuration, then our folder; older subsets in it (from another
    font version or setting) are removed first, so only these fonts are found there."""
    for old in folder.glob("*.otf"):
        if old not in fonts:
            old.unlink(missing_ok=True)
    system = os.environ.get("FONTCONFIG_FILE") or "/etc/fonts/fonts.conf"
    text = f"""<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">
<fontconfig>
  <include ignore_missing="yes">{_xml(Path(system))}</include>
  <dir>{_xml(folder)}</dir>
</fontconfig>
"""
    target = folder / CONF
    if not target.is_file() or target.read_text(encoding="utf-8") != text:
        write_atomic(target, text, replace=True, sync=False)


def _xml(path: Path) -> str:
    return str(path).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@contextlib.contextmanager
def fontconfig_file(folder: Path | None) -> Iterator[None]:
    """Make Fontconfig, while the block runs, read our configuration (WeasyPrint reads it
    when it creates a font configuration); the environment is restored after."""
    if folder is None or not (folder / CONF).is_file():
        yield
        return
    before = os.environ.get("FONTCONFIG_FILE")
    os.environ["FONTCONFIG_FILE"] = str(folder / CONF)
    try:
        yield
    finally:
        if before is None:
            del os.environ["FONTCONFIG_FILE"]
        else:
            os.environ["FONTCONFIG_FILE"] = before
