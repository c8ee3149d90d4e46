"""Booklet fonts cut down to the common characters: what Fontconfig sees, what the
subsets hold, that they are made once, and that a booklet looks the same with them
and still draws a character they lack (from the installed font)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont
from PIL import Image, ImageChops
from pypdf import PdfReader

from generator.booklets import fontsubset
from generator.booklets.booklet import Fonts, make_booklets
from generator.render import templates as render

LABELS = render.load_labels(render.TEMPLATES_DIR, "zh")
RARE = "旻"  # common in given names, not in GB 2312: drawn from the installed font


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = fontsubset.prepare((Fonts().body, Fonts().heading), tmp_path_factory.mktemp("fonts"))
    assert folder is not None
    return folder


def _fc_list(folder: Path) -> str:
    env = {**os.environ, "FONTCONFIG_FILE": str(folder / fontsubset.CONF)}
    return subprocess.run(
        ["fc-list", ":", "family", "style", "file"], capture_output=True, text=True, check=True, env=env
    ).stdout


def test_common_characters_are_gb2312_and_punctuation() -> None:
    chars = fontsubset.common_characters()
    assert len(chars) > 7000
    common = "的一是了我不人在他有这个上们来到时大地为子中你说生国年着就那和要她出也得里后自以会"
    for ch in common + "，。、；：“”（）《》·①—…ＡａＩ":
        assert ch in chars, ch
    assert RARE not in chars


def test_fontconfig_sees_both_weights_of_both_families_renamed(prepared: Path) -> None:
    listing = _fc_list(prepared)
    mine = [line for line in listing.splitlines() if line.startswith(str(prepared))]
    assert len(mine) == 4, listing
    for family in ("yidang Noto Serif CJK SC", "yidang Noto Sans CJK SC"):
        assert sum(f": {family}:style=Regular" in line for line in mine) == 1, mine
        assert sum(f": {family}:style=Bold" in line for line in mine) == 1, mine
    assert "Noto Serif CJK SC" in listing.replace("yidang Noto Serif CJK SC", "")  # system fonts too


def test_subset_holds_the_common_characters_only(prepared: Path) -> None:
    for path in prepared.glob("*.otf"):
        font = TTFont(path, lazy=True)
        cmap = font.getBestCmap()
        assert all(ord(ch) in cmap for ch in "关爱帮扶档案谈话记录家访，。"), path
        assert ord(RARE) not in cmap
        assert font["maxp"].numGlyphs < 20000  # against 65,535 in the installed face
        assert path.stat().st_size < 6 * 2**20


def test_made_once_then_reused(prepared: Path) -> None:
    before = {p: p.stat().st_mtime_ns for p in prepared.glob("*.otf")}
    assert fontsubset.prepare((Fonts().body, Fonts().heading), prepared) == prepared
    assert {p: p.stat().st_mtime_ns for p in prepared.glob("*.otf")} == before


def test_only_the_configured_faces_are_kept(tmp_path: Path) -> None:
    folder = tmp_path / "fonts"
    assert fontsubset.prepare(("Noto Sans CJK SC",), folder) == folder
    assert len(list(folder.glob("*.otf"))) == 2
    assert fontsubset.prepare(("No Such Font",), tmp_path / "none") is None


def _page_image(pdf: Path, page: int, stem: Path) -> Image.Image:
    subprocess.run(
        ["pdftoppm", "-r", "50", "-f", str(page), "-l", str(page), "-png", str(pdf), str(stem)], check=True
    )
    return Image.open(next(stem.parent.glob(f"{stem.name}*.png"))).convert("RGB")


def test_booklet_looks_the_same(tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every page, rasterised, is the same with the subsets as with the installed fonts."""
    fast = make_booklets(tiny, tmp_path / "fast", LABELS, render.TEMPLATES_DIR, Fonts(), jobs=1)
    assert "yidang-Noto-Serif-CJK-SC" in _pdffonts(tmp_path / "fast/S1.pdf")
    monkeypatch.setattr(fontsubset, "prepare", lambda *a: None)  # the installed fonts alone
    plain = make_booklets(tiny, tmp_path / "plain", LABELS, render.TEMPLATES_DIR, Fonts(), jobs=1)
    assert "yidang" not in _pdffonts(tmp_path / "plain/S1.pdf")
    assert plain.pages == fast.pages >= 4
    for page in range(1, fast.pages + 1):
        a = _page_image(tmp_path / "fast/S1.pdf", page, tmp_path / f"a{page}")
        b = _page_image(tmp_path / "plain/S1.pdf", page, tmp_path / f"b{page}")
        assert ImageChops.difference(a, b).getbbox() is None, f"page {page} differs"


def test_character_outside_the_subset_comes_from_the_installed_font(tiny: Path, tmp_path: Path) -> None:
    talk = tiny / "students/S1/records/2026-03-05-talk.md"
    added = f"\n孩子提到表姐{RARE}{RARE}周末来看她。\n"
    talk.write_text(talk.read_text(encoding="utf-8") + added, encoding="utf-8")
    report = make_booklets(tiny, tmp_path, LABELS, render.TEMPLATES_DIR, Fonts(), jobs=1)
    assert [r.status for r in report.results] == ["rendered"], report.results
    text = "".join(p.extract_text() for p in PdfReader(tmp_path / "S1.pdf").pages).replace(" ", "")
    assert f"表姐{RARE}{RARE}周末" in text
    fonts = _pdffonts(tmp_path / "S1.pdf")
    assert "yidang-Noto-Serif-CJK-SC" in fonts  # the subset draws the text…
    assert "+Noto-Serif-CJK-SC" in fonts  # …and the installed face the character it lacks


def _pdffonts(pdf: Path) -> str:
    return subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
