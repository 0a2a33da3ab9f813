"""Realistic learner documents made locally for the demo data: PDFs, JPEG photos, PNGs and TIFFs.

Nothing is downloaded. ``SimplePdf`` is a small, correct PDF 1.4 writer (text in the standard
Helvetica fonts with WinAnsi encoding, so "Zoë" and "Naudé" survive; lines, boxes and a rotated
certification stamp; a cross-reference table with exact byte offsets). The image makers draw with
Pillow: a phone photo of a smart ID card saved sideways with an EXIF orientation tag (as phones do),
a scanned letter as PNG, and a multi-page TIFF as a fax machine or office scanner would produce.

Every maker returns ``DemoFile`` (bytes, name, content type, page count, pixel size) and is
deterministic for the same inputs.
"""

from __future__ import annotations

import functools
import io
import random
import unicodedata
import zlib
from dataclasses import dataclass, replace
from datetime import date

from PIL import Image, ImageDraw, ImageFont

PAGE_WIDTH, PAGE_HEIGHT = 595, 842  # A4 in points
EXIF_ORIENTATION = 0x0112


@dataclass(frozen=True)
class DemoFile:
    data: bytes
    file_name: str
    content_type: str
    pages: int = 1
    width: int | None = None
    height: int | None = None

    def blob_metadata(self) -> dict[str, object]:
        """``active_storage_blobs.metadata`` as DocuSeal's analyser would have filled it."""
        meta: dict[str, object] = {"identified": True, "analyzed": True}
        if self.content_type == "application/pdf":
            meta["pdf"] = {"number_of_pages": self.pages}
        if self.width and self.height:
            meta["width"], meta["height"] = self.width, self.height
        return meta


# --- PDF ------------------------------------------------------------------------------------------


def _pdf_string(text: str) -> bytes:
    """A PDF literal string in WinAnsi (cp1252) with the delimiters escaped."""
    raw = text.encode("cp1252", errors="replace")
    out = bytearray(b"(")
    for byte in raw:
        if byte in b"()\\":
            out += b"\\" + bytes([byte])
        elif 32 <= byte < 127:
            out.append(byte)
        else:
            out += b"\\%03o" % byte
    out += b")"
    return bytes(out)


class PdfPage:
    """Drawing operations for one page; coordinates in points from the bottom-left corner."""

    def __init__(self) -> None:
        self._ops: list[bytes] = []

    def text(self, x: float, y: float, text: str, size: float = 11, bold: bool = False) -> PdfPage:
        font = b"/F2" if bold else b"/F1"
        self._ops.append(b"BT %s %.1f Tf %.2f %.2f Td %s Tj ET" % (font, size, x, y, _pdf_string(text)))
        return self

    def line(self, x1: float, y1: float, x2: float, y2: float, width: float = 0.8) -> PdfPage:
        self._ops.append(b"%.2f w %.2f %.2f m %.2f %.2f l S" % (width, x1, y1, x2, y2))
        return self

    def box(
        self,
        x: float,
        y: float,
        w: float,
        h: float,
        width: float = 1,
        rgb: tuple[float, float, float] = (0, 0, 0),
        fill: tuple[float, float, float] | None = None,
    ) -> PdfPage:
        ops = b"q %.3f %.3f %.3f RG %.2f w " % (*rgb, width)
        if fill is not None:
            ops += b"%.3f %.3f %.3f rg %.2f %.2f %.2f %.2f re B Q" % (*fill, x, y, w, h)
        else:
            ops += b"%.2f %.2f %.2f %.2f re S Q" % (x, y, w, h)
        self._ops.append(ops)
        return self

    def stamp(self, x: float, y: float, lines: list[str], angle_cos: float = 0.97, angle_sin: float = 0.24):
        """A slightly rotated, double-bordered blue box, like a commissioner of oaths' rubber stamp."""
        body = [b"q 0.10 0.20 0.65 RG 0.10 0.20 0.65 rg"]
        body.append(b"%.3f %.3f %.3f %.3f %.2f %.2f cm" % (angle_cos, angle_sin, -angle_sin, angle_cos, x, y))
        height = 16 + 13 * len(lines)
        body.append(b"1.6 w 0 0 236 %.1f re S 0.6 w 4 4 228 %.1f re S" % (height, height - 8))
        for index, line in enumerate(lines):
            size = 9.5 if index == 0 else 8.5
            font = b"/F2" if index == 0 else b"/F1"
            body.append(
                b"BT %s %.1f Tf 12 %.1f Td %s Tj ET"
                % (font, size, height - 18 - 13 * index, _pdf_string(line))
            )
        body.append(b"Q")
        self._ops.append(b" ".join(body))
        return self

    def content(self) -> bytes:
        return b"\n".join(self._ops) + b"\n"


class SimplePdf:
    """Collects pages and writes a complete PDF 1.4 file (Flate-compressed content streams)."""

    def __init__(self, title: str = "", author: str = "CohortDesk demo") -> None:
        self.title = title
        self.author = author
        self.pages: list[PdfPage] = []

    def page(self) -> PdfPage:
        page = PdfPage()
        self.pages.append(page)
        return page

    def to_bytes(self) -> bytes:
        if not self.pages:
            self.page()
        objects: list[bytes] = []
        page_ids = [5 + 2 * i for i in range(len(self.pages))]
        objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
        kids = b" ".join(b"%d 0 R" % pid for pid in page_ids)
        objects.append(b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(self.pages)))
        objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
        objects.append(
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>"
        )
        for index, page in enumerate(self.pages):
            stream = zlib.compress(page.content(), 6)
            objects.append(
                b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] "
                b"/Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents %d 0 R >>"
                % (PAGE_WIDTH, PAGE_HEIGHT, page_ids[index] + 1)
            )
            objects.append(
                b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (len(stream), stream)
            )
        info_id = len(objects) + 1
        objects.append(
            b"<< /Title %s /Author %s /Producer (CohortDesk demo generator) >>"
            % (_pdf_string(self.title), _pdf_string(self.author))
        )
        # Object numbers are list positions: catalog 1, pages 2, fonts 3-4, then page + content
        # stream pairs from 5, and the info dictionary last.
        out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        offsets: list[int] = []
        for number, body in enumerate(objects, start=1):
            offsets.append(len(out))
            out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
        xref_at = len(out)
        out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
        for offset in offsets:
            out += b"%010d 00000 n \n" % offset
        out += b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
            len(objects) + 1,
            info_id,
            xref_at,
        )
        return bytes(out)


def _letterhead(page: PdfPage, heading: str, subheading: str = "") -> None:
    page.box(40, 770, 515, 44, width=0, fill=(0.93, 0.95, 0.98))
    page.text(52, 795, heading, size=15, bold=True)
    if subheading:
        page.text(52, 780, subheading, size=9)
    page.line(40, 762, 555, 762)


def _certification(
    page: PdfPage, commissioner: str, certified_on: date, x: float = 330, y: float = 90
) -> None:
    page.stamp(
        x,
        y,
        [
            "CERTIFIED A TRUE COPY OF THE ORIGINAL",
            f"Commissioner of Oaths: {commissioner}",
            "Ex officio: SAPS, Johannesburg Central",
            f"Date: {certified_on.isoformat()}   Signature: ______",
        ],
    )


@dataclass(frozen=True)
class Person:
    """What a generated document says about its learner."""

    first_name: str
    last_name: str
    sa_id_number: str | None
    date_of_birth: date
    gender: str
    city: str

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


def id_document_pdf(person: Person, certified_on: date, commissioner: str, pages: int = 1) -> DemoFile:
    pdf = SimplePdf(title=f"Certified ID - {person.full_name}")
    page = pdf.page()
    _letterhead(
        page, "Certified copy — Republic of South Africa Identity Document", "Department of Home Affairs"
    )
    page.box(60, 470, 470, 270, width=1.2)
    page.box(80, 540, 120, 160, width=0.8, fill=(0.85, 0.85, 0.85))
    page.text(110, 615, "PHOTO", size=12, bold=True)
    rows = [
        ("Surname / Van", person.last_name.upper()),
        ("Forenames / Voorname", person.first_name.upper()),
        ("Identity number", person.sa_id_number or "—"),
        ("Date of birth", person.date_of_birth.strftime("%d %b %Y").upper()),
        ("Sex", "FEMALE" if person.gender == "F" else "MALE"),
        ("Country of birth", "SOUTH AFRICA"),
    ]
    for index, (label, value) in enumerate(rows):
        page.text(220, 700 - 30 * index, label, size=8)
        page.text(220, 688 - 30 * index, value, size=12, bold=True)
    page.text(60, 440, "This copy was made from the original document presented in person.", size=9)
    _certification(page, commissioner, certified_on)
    for extra in range(1, pages):
        back = pdf.page()
        _letterhead(back, "Certified copy — Smart ID card (reverse side)", f"Page {extra + 1} of {pages}")
        back.box(60, 470, 470, 270, width=1.2)
        back.text(80, 700, "Barcode / Strepieskode", size=9)
        for bar in range(40):
            back.box(80 + bar * 9, 620, 3 + bar % 3, 60, width=0, fill=(0, 0, 0))
        back.text(80, 590, f"{person.sa_id_number or ''}  {person.last_name.upper()}", size=11, bold=True)
        _certification(back, commissioner, certified_on)
    slug = _slug(person)
    return DemoFile(pdf.to_bytes(), f"certified_id_{slug}.pdf", "application/pdf", pages=max(pages, 1))


def matric_certificate_pdf(person: Person, year: int, certified_on: date, commissioner: str) -> DemoFile:
    pdf = SimplePdf(title=f"National Senior Certificate - {person.full_name}")
    page = pdf.page()
    _letterhead(page, "National Senior Certificate", "Umalusi — Council for Quality Assurance")
    page.text(60, 720, "This is to certify that", size=11)
    page.text(60, 700, person.full_name, size=16, bold=True)
    page.text(
        60, 680, f"ID number {person.sa_id_number or '—'} obtained the National Senior Certificate", size=10
    )
    page.text(60, 664, f"in November {year} with the following results:", size=10)
    subjects = [
        ("English Home Language", 64),
        ("isiZulu First Additional Language", 71),
        ("Mathematics", 52),
        ("Physical Sciences", 48),
        ("Life Orientation", 78),
        ("Business Studies", 61),
        ("Accounting", 57),
    ]
    for index, (subject, mark) in enumerate(subjects):
        y = 630 - 20 * index
        page.text(80, y, subject, size=10)
        page.text(420, y, f"{(mark + len(person.last_name) * 3) % 40 + 45} %", size=10)
        page.line(80, y - 5, 480, y - 5, width=0.3)
    page.text(60, 470, "Pass with admission to Diploma study", size=11, bold=True)
    _certification(page, commissioner, certified_on)
    return DemoFile(pdf.to_bytes(), f"matric_{_slug(person)}.pdf", "application/pdf")


def cv_pdf(person: Person, email: str, phone: str, pages: int = 2) -> DemoFile:
    pdf = SimplePdf(title=f"CV - {person.full_name}")
    for number in range(pages):
        page = pdf.page()
        _letterhead(
            page, "Curriculum Vitae" if number == 0 else "Curriculum Vitae (continued)", person.full_name
        )
        y = 730
        sections = (
            [
                (
                    "Personal details",
                    [
                        f"Name: {person.full_name}",
                        f"City: {person.city}",
                        f"E-mail: {email}",
                        f"Cell: {phone}",
                    ],
                ),
                ("Education", ["National Senior Certificate", "Short course: Microsoft Office (2 weeks)"]),
            ]
            if number == 0
            else [
                (
                    "Experience",
                    ["Volunteer, community food garden (12 months)", "Cashier, weekend shifts (8 months)"],
                ),
                ("References", ["Available on request"]),
            ]
        )
        for title, lines in sections:
            page.text(60, y, title, size=12, bold=True)
            y -= 18
            for line in lines:
                page.text(75, y, line, size=10)
                y -= 15
            y -= 12
        page.text(480, 40, f"Page {number + 1} of {pages}", size=8)
    return DemoFile(pdf.to_bytes(), f"CV {person.full_name}.pdf", "application/pdf", pages=pages)


def letter_pdf(person: Person, kind: str, issued_on: date, detail: str = "") -> DemoFile:
    """Bank confirmation letter, proof of residence, disability letter or tertiary certificate."""
    titles = {
        "bank_confirmation_letter": ("Bank confirmation letter", "Confirmation of banking details"),
        "proof_of_residence": ("Municipal account", "Statement of account — proof of residence"),
        "disability_proof": ("Medical practitioner's letter", "Confirmation of disability"),
        "tertiary_qualification": ("Academic record", "Diploma certificate and academic transcript"),
        "international_certificate": ("Foreign qualification", "Certificate with SAQA evaluation"),
    }
    heading, sub = titles.get(kind, (kind.replace("_", " ").title(), ""))
    pdf = SimplePdf(title=f"{heading} - {person.full_name}")
    page = pdf.page()
    _letterhead(page, heading, sub)
    page.text(60, 720, f"Date: {issued_on.isoformat()}", size=10)
    page.text(60, 690, f"To whom it may concern: {person.full_name}", size=11, bold=True)
    page.text(60, 670, f"Residing in {person.city}.", size=10)
    if detail:
        page.text(60, 650, detail, size=10)
    page.text(60, 600, "Yours faithfully", size=10)
    page.line(60, 560, 220, 560)
    if kind in ("tertiary_qualification", "international_certificate"):
        _certification(page, "A. Pillay", issued_on)
    return DemoFile(pdf.to_bytes(), f"{kind}_{_slug(person)}.pdf", "application/pdf")


def agreement_pdf(title: str, institution: str, pages: int = 3) -> DemoFile:
    """A template's source document: the tripartite agreement, with numbered clauses."""
    pdf = SimplePdf(title=title, author=institution)
    for number in range(pages):
        page = pdf.page()
        _letterhead(page, title, f"{institution} — page {number + 1} of {pages}")
        for clause in range(12):
            y = 720 - 45 * clause
            page.text(
                60, y, f"{number * 12 + clause + 1}. The parties agree to the terms of this clause.", size=10
            )
        page.text(60, 60, "Initials: Learner ____  Employer ____  Provider ____", size=9)
    return DemoFile(pdf.to_bytes(), f"{title}.pdf", "application/pdf", pages=pages)


# --- images ---------------------------------------------------------------------------------------


_SYSTEM_FONTS = ("DejaVuSans.ttf", "arial.ttf", "Arial.ttf", "LiberationSans-Regular.ttf")


@functools.lru_cache(maxsize=1)
def _system_font() -> str | None:
    for name in _SYSTEM_FONTS:
        try:
            ImageFont.truetype(name, 12)
            return name
        except OSError:
            continue
    return None


@functools.lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """A scalable font with accented letters when the system has one, else Pillow's own."""
    name = _system_font()
    return ImageFont.truetype(name, size) if name else ImageFont.load_default(size=size)


def _font_has_accents() -> bool:
    return _system_font() is not None


def _t(text: str) -> str:
    """Text Pillow's fallback font can draw (it has no accented letters or dashes)."""
    if _font_has_accents():
        return text
    folded = unicodedata.normalize("NFKD", text.replace("—", "-"))
    return "".join(c for c in folded if c.isascii())


def _card(person: Person, width: int, height: int, shade: int) -> Image.Image:
    image = Image.new("RGB", (width, height), (214 - shade, 222 - shade, 205 - shade))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle(
        (20, 20, width - 20, height - 20), radius=24, fill=(236, 240, 226), outline=(90, 110, 80), width=4
    )
    draw.rectangle((40, 40, width - 40, 88), fill=(30, 110, 70))
    draw.text((56, 52), _t("REPUBLIC OF SOUTH AFRICA — SMART ID CARD"), font=_font(24), fill=(255, 255, 255))
    draw.rectangle((48, 110, 228, 330), fill=(170, 160, 150), outline=(80, 80, 80), width=2)
    draw.ellipse((98, 140, 178, 220), fill=(120, 90, 70))
    draw.rounded_rectangle((78, 220, 198, 330), radius=30, fill=(60, 70, 110))
    rows = [
        ("Surname", person.last_name.upper()),
        ("Names", person.first_name.upper()),
        ("Sex", person.gender),
        ("Date of birth", person.date_of_birth.strftime("%d %b %Y").upper()),
        ("Identity number", person.sa_id_number or "—"),
    ]
    for index, (label, value) in enumerate(rows):
        y = 112 + 44 * index
        draw.text((252, y), _t(label), font=_font(14), fill=(70, 70, 70))
        draw.text((252, y + 16), _t(value), font=_font(22), fill=(10, 10, 10))
    return image


def id_card_photo_jpeg(person: Person, orientation: int = 6, shade: int = 0) -> DemoFile:
    """A phone photo of a smart ID card: stored sideways with an EXIF orientation tag.

    Orientation 6 means "rotate 90° clockwise to display"; the stored pixels are the upright card
    turned 90° anticlockwise, so a viewer that ignores the tag shows it sideways.
    """
    upright = _card(person, 680, 420, shade)
    stored = {
        1: upright,
        3: upright.transpose(Image.Transpose.ROTATE_180),
        6: upright.transpose(Image.Transpose.ROTATE_90),
        8: upright.transpose(Image.Transpose.ROTATE_270),
    }[orientation]
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = orientation
    exif[0x010F] = "Samsung"  # Make
    exif[0x0110] = "Galaxy A14"  # Model
    buffer = io.BytesIO()
    stored.save(buffer, "JPEG", quality=70, exif=exif.tobytes())
    return DemoFile(
        buffer.getvalue(),
        f"IMG_{_digits(person)}.jpg",
        "image/jpeg",
        width=stored.width,
        height=stored.height,
    )


def scanned_letter_png(person: Person, heading: str, issued_on: date) -> DemoFile:
    """A greyscale scan of a one-page letter (e.g. a municipal account as proof of residence)."""
    image = Image.new("L", (620, 877), 246)
    draw = ImageDraw.Draw(image)
    draw.rectangle((30, 30, 590, 90), fill=215)
    draw.text((46, 48), _t(heading), font=_font(24), fill=20)
    draw.text((46, 120), _t(f"Account holder: {person.full_name}"), font=_font(18), fill=30)
    draw.text((46, 150), _t(f"Address: 12 Main Road, {person.city}"), font=_font(18), fill=30)
    draw.text((46, 180), _t(f"Statement date: {issued_on.isoformat()}"), font=_font(18), fill=30)
    for row in range(14):
        y = 240 + 34 * row
        draw.line((46, y, 574, y), fill=180, width=1)
        draw.text((52, y + 8), _t(f"Item {row + 1:02d}"), font=_font(14), fill=60)
        draw.text(
            (470, y + 8),
            f"R {((row + 3) * 137 + len(person.last_name) * 11) % 900 + 40}.00",
            font=_font(14),
            fill=60,
        )
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=False, compress_level=6)
    return DemoFile(
        buffer.getvalue(), f"scan_{_slug(person)}.png", "image/png", width=image.width, height=image.height
    )


def multipage_tiff(person: Person, heading: str, pages: int = 3) -> DemoFile:
    """A multi-page office-scanner TIFF (one page per image frame)."""
    frames: list[Image.Image] = []
    for number in range(pages):
        image = Image.new("L", (510, 720), 250)
        draw = ImageDraw.Draw(image)
        draw.text((30, 30), _t(f"{heading} — page {number + 1} of {pages}"), font=_font(20), fill=10)
        draw.text((30, 70), _t(person.full_name), font=_font(18), fill=30)
        for row in range(18):
            draw.line((30, 120 + 32 * row, 480, 120 + 32 * row), fill=190)
        frames.append(image)
    buffer = io.BytesIO()
    frames[0].save(buffer, "TIFF", save_all=True, append_images=frames[1:], compression="tiff_deflate")
    return DemoFile(
        buffer.getvalue(),
        f"scan_{_slug(person)}.tif",
        "image/tiff",
        pages=pages,
        width=frames[0].width,
        height=frames[0].height,
    )


def _slug(person: Person) -> str:
    ascii_name = unicodedata.normalize("NFKD", f"{person.first_name}_{person.last_name}")
    cleaned = "".join(c for c in ascii_name if c.isascii() and (c.isalnum() or c in "_-"))
    return cleaned.lower()


def _digits(person: Person) -> str:
    return (person.sa_id_number or "0000000000000")[-4:] + person.date_of_birth.strftime("%m%d")


# --- scans and photos as they arrive: skewed, noisy, low resolution -------------------------------


@dataclass(frozen=True)
class ScanQuality:
    """How a scan or phone photo departs from a clean page."""

    skew: float = 0.0  # degrees, anticlockwise
    noise: float = 0.0  # standard deviation of grey noise (0-255 scale)
    scale: float = 1.0  # 1.0 = 150 dpi for pages, full size for cards
    blur: float = 0.0  # Gaussian radius in pixels
    jpeg_quality: int = 82
    stamp_angle: float = -3.0  # the commissioner's stamp is rarely straight
    seed: int = 0  # of the grain, so the same quality gives the same bytes

    @property
    def degraded(self) -> bool:
        return bool(self.skew or self.noise or self.blur or self.scale < 1.0)


CLEAN_SCAN = ScanQuality()


def degraded_quality(rng: random.Random) -> ScanQuality:
    """A random, still legible, poor scan: what officers get from phones and old office scanners."""
    return ScanQuality(
        skew=rng.uniform(-4.0, 4.0),
        noise=rng.uniform(6, 22),
        scale=rng.choice((0.7, 0.8, 0.9, 1.0)),
        blur=rng.choice((0.0, 0.0, 0.4, 0.7)),
        jpeg_quality=rng.randrange(45, 80),
        stamp_angle=rng.uniform(-6, 6),
        seed=rng.randrange(2**31),
    )


def _degrade(image: Image.Image, quality: ScanQuality, background: int = 255) -> Image.Image:
    from PIL import ImageChops, ImageFilter

    if quality.scale != 1.0:
        image = image.resize(
            (round(image.width * quality.scale), round(image.height * quality.scale)),
            Image.Resampling.LANCZOS,
        )
    if quality.skew:
        image = image.rotate(
            quality.skew, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=background
        )
    if quality.blur:
        image = image.filter(ImageFilter.GaussianBlur(quality.blur))
    if quality.noise:
        # Uniform grain (standard deviation 73.9 over 0..255) scaled to the wanted deviation.
        grain = Image.frombytes(
            "L", image.size, random.Random(quality.seed).randbytes(image.width * image.height)
        )
        factor = quality.noise / 73.9
        grain = grain.point(lambda value: round(128 + (value - 128) * factor))
        image = ImageChops.add(image.convert("L"), grain, scale=1.0, offset=-128)
    return image


def _jpeg(image: Image.Image, quality: ScanQuality, dpi: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality.jpeg_quality, dpi=(dpi, dpi))
    return buffer.getvalue()


def _stamp_image(lines: list[str], angle: float) -> Image.Image:
    """The commissioner of oaths' rubber stamp in blue ink, on a transparent sheet."""
    font_bold, font = _font(19), _font(17)
    width = max(int(font_bold.getlength(_t(line))) for line in lines) + 48
    height = 30 + 28 * len(lines)
    stamp = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(stamp)
    ink = (30, 50, 160, 235)
    draw.rectangle((1, 1, width - 2, height - 2), outline=ink, width=3)
    draw.rectangle((8, 8, width - 9, height - 9), outline=ink, width=1)
    for index, line in enumerate(lines):
        draw.text((22, 16 + 28 * index), _t(line), font=font_bold if index == 0 else font, fill=ink)
    return stamp.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)


def certified_id_scan_jpeg(
    person: Person,
    certified_on: date,
    commissioner: str,
    quality: ScanQuality = CLEAN_SCAN,
    id_number_shown: str | None = None,
) -> DemoFile:
    """A certified copy of an ID, scanned on an office scanner at 150 dpi and saved as JPEG.

    ``id_number_shown`` puts another number on the page than the learner's (a demo mismatch)."""
    width, height = 1240, 1754  # A4 at 150 dpi
    page = Image.new("RGB", (width, height), (250, 250, 247))
    draw = ImageDraw.Draw(page)
    draw.rectangle((80, 70, width - 80, 160), fill=(232, 236, 242))
    draw.text(
        (104, 86), _t("Certified copy — Republic of South Africa Identity Document"), font=_font(30), fill=20
    )
    draw.text((104, 126), _t("Department of Home Affairs"), font=_font(20), fill=40)
    draw.rectangle((120, 250, width - 120, 820), outline=(30, 30, 30), width=3)
    draw.rectangle((160, 300, 400, 620), fill=(200, 200, 200))
    draw.text((232, 446), "PHOTO", font=_font(26), fill=60)
    rows = [
        ("Surname / Van", person.last_name.upper()),
        ("Forenames / Voorname", person.first_name.upper()),
        ("Identity number", id_number_shown or person.sa_id_number or "—"),
        ("Date of birth", person.date_of_birth.strftime("%d %b %Y").upper()),
        ("Sex", "FEMALE" if person.gender == "F" else "MALE"),
        ("Country of birth", "SOUTH AFRICA"),
    ]
    for index, (label, value) in enumerate(rows):
        y = 290 + 84 * index
        draw.text((450, y), _t(label), font=_font(19), fill=70)
        draw.text((450, y + 26), _t(value), font=_font(34), fill=10)
    draw.text(
        (120, 880),
        _t("This copy was made from the original document presented in person."),
        font=_font(21),
        fill=40,
    )
    stamp = _stamp_image(
        [
            "CERTIFIED A TRUE COPY OF THE ORIGINAL",
            f"Commissioner of Oaths: {commissioner}",
            "Ex officio: SAPS, Johannesburg Central",
            f"Date: {certified_on.strftime('%d %B %Y')}",
        ],
        quality.stamp_angle,
    )
    page.paste(stamp, (560, 1180), stamp)
    scanned = _degrade(page.convert("L"), quality)
    dpi = round(150 * quality.scale)
    data = _jpeg(scanned, quality, dpi)
    return DemoFile(
        data,
        f"scan_certified_id_{_slug(person)}.jpg",
        "image/jpeg",
        width=scanned.width,
        height=scanned.height,
    )


def id_card_photo_scan_jpeg(
    person: Person,
    quality: ScanQuality = CLEAN_SCAN,
    orientation: int = 1,
    id_number_shown: str | None = None,
) -> DemoFile:
    """A phone photo of a smart ID card on a desk: tilted, noisy, maybe small, EXIF-oriented."""
    shown = replace(person, sa_id_number=id_number_shown) if id_number_shown else person
    card = _card(shown, 680, 420, 0).convert("L")
    desk = Image.new("L", (card.width + 80, card.height + 80), 205)
    desk.paste(card, (40, 40))
    photo = _degrade(desk, quality, background=205)
    stored = {
        1: photo,
        3: photo.transpose(Image.Transpose.ROTATE_180),
        6: photo.transpose(Image.Transpose.ROTATE_90),
        8: photo.transpose(Image.Transpose.ROTATE_270),
    }[orientation]
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = orientation
    buffer = io.BytesIO()
    stored.save(buffer, "JPEG", quality=quality.jpeg_quality, exif=exif.tobytes())
    return DemoFile(
        buffer.getvalue(),
        f"IMG_{_digits(person)}_card.jpg",
        "image/jpeg",
        width=stored.width,
        height=stored.height,
    )
