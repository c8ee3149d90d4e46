"""Draw the sample archive's photos (no real people or places).

Each picture is a simple drawn scene with a caption, saved as a JPEG that
carries made-up EXIF data — a GPS position and a camera model — exactly like a
phone photo would. The site and the booklets must strip it; the tests check
that they do. Run from the repository root:

    .venv/bin/python scripts/make_sample_photos.py
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent / "archives" / "students"
FONT_CANDIDATES = [
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
]
# (student folder, file name, scene, caption)
PHOTOS = [
    ("S2026001", "photos/2026-11-14-家访.jpg", "house", "示例照片:家访时的院子"),
    ("S2026008", "photos/2026-10-16-讲座.jpg", "classroom", "示例照片:励志讲座"),
    ("S2025003", "photos/2026-09-19-家访.jpg", "house", "示例照片:石桥村家访"),
    ("S2024002", "photos/2026-05-20-活动.jpg", "field", "示例照片:感恩教育活动"),
]
GPS = {1: "N", 2: (19.0, 14.0, 30.12), 3: "E", 4: (110.0, 28.0, 15.44)}  # made up


def _font(size: int):  # type: ignore[no-untyped-def]
    from PIL import ImageFont

    for path in FONT_CANDIDATES:
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default()


def draw(scene: str, caption: str) -> Image.Image:
    img = Image.new("RGB", (1200, 900), "#cfe8f7")
    d = ImageDraw.Draw(img)
    d.rectangle((0, 620, 1200, 900), fill="#8bbf6a")
    if scene == "house":
        d.rectangle((380, 360, 820, 640), fill="#e8d7b9", outline="#6b4f2a", width=6)
        d.polygon([(340, 370), (600, 200), (860, 370)], fill="#b5533c")
        d.rectangle((560, 500, 640, 640), fill="#6b4f2a")
        d.ellipse((960, 80, 1080, 200), fill="#ffd54f")
    elif scene == "classroom":
        img.paste("#f4efe6", (0, 0, 1200, 900))
        d.rectangle((150, 120, 1050, 420), fill="#2f5d50", outline="#5d4037", width=10)
        for x in range(200, 1000, 220):
            d.rectangle((x, 560, x + 150, 620), fill="#a1887f")
    else:
        d.ellipse((200, 650, 1000, 860), outline="#ffffff", width=8)
        d.rectangle((560, 300, 640, 640), fill="#d84315")
    d.rectangle((0, 820, 1200, 900), fill="#00000088")
    d.text((40, 835), caption, fill="white", font=_font(44))
    return img


def main() -> None:
    for folder, rel, scene, caption in PHOTOS:
        target = ROOT / folder / rel
        if not target.parent.parent.exists():
            print(f"skip {folder}: no such student")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        img = draw(scene, caption)
        exif = Image.Exif()
        exif[0x010F] = "ExampleCam"  # Make
        exif[0x0110] = "Sample Phone X"  # Model
        exif.get_ifd(0x8825).update(GPS)  # GPSInfo: a made-up position
        img.save(target, "JPEG", quality=85, exif=exif)
        print(f"wrote {target.relative_to(ROOT.parent.parent)}")


if __name__ == "__main__":
    main()
