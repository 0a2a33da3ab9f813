"""The demo's generated documents open in the same Qt PDF engine and image readers the viewer uses."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from PySide6.QtCore import QSize
from PySide6.QtGui import QImage, QImageReader
from PySide6.QtPdf import QPdfDocument

from cohortdesk.services.demo import files

PERSON = files.Person("Zoë", "O'Neill", "0501014800087", date(2005, 1, 1), "F", "Gqeberha")


def test_pdfs_open_with_every_page_and_their_text(qapp, tmp_path: Path):
    made = [
        files.id_document_pdf(PERSON, date(2026, 1, 5), "Sgt. (T) Naudé\\", pages=2),
        files.matric_certificate_pdf(PERSON, 2023, date(2026, 1, 5), "Const. R. Naidoo"),
        files.cv_pdf(PERSON, "zoe@example.co.za", "082 555 0101", pages=3),
        files.letter_pdf(PERSON, "bank_confirmation_letter", date(2026, 1, 1), "Account ****1234"),
        files.agreement_pdf("Learnership Agreement", "Ikhwezi Skills Academy", pages=3),
    ]
    for made_file in made:
        path = tmp_path / "doc.pdf"
        path.write_bytes(made_file.data)
        document = QPdfDocument()
        document.load(str(path))
        assert document.status() == QPdfDocument.Status.Ready, made_file.file_name
        assert document.pageCount() == made_file.pages
        text = document.getAllText(0).text()
        if "Agreement" not in made_file.file_name:
            assert "O'Neill" in text or "O'NEILL" in text
            assert "ZOË" in text or "Zoë" in text  # WinAnsi encoding keeps the diaeresis
        image = document.render(0, QSize(297, 421))
        assert not image.isNull()
        document.close()


def test_images_decode_and_carry_their_orientation(qapp, tmp_path: Path):
    photo = files.id_card_photo_jpeg(PERSON, orientation=6)
    path = tmp_path / "photo.jpg"
    path.write_bytes(photo.data)
    reader = QImageReader(str(path))
    reader.setAutoTransform(True)
    upright = reader.read()
    assert (upright.width(), upright.height()) == (photo.height, photo.width)  # shown upright: landscape
    png = files.scanned_letter_png(PERSON, "Municipal account", date(2026, 1, 1))
    assert not QImage.fromData(png.data).isNull()
    tiff = files.multipage_tiff(PERSON, "Scan", pages=3)
    path = tmp_path / "scan.tif"
    path.write_bytes(tiff.data)
    assert QImageReader(str(path)).imageCount() in (0, 3)  # Qt's TIFF plugin may not count frames
