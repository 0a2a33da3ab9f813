"""Extraction rules and comparisons on hand-made lines: no OCR engine involved."""

from __future__ import annotations

from datetime import date

import pytest

from cohortdesk.services.documents.reading import compare, extract
from cohortdesk.services.documents.reading.cache import ReadingCache
from cohortdesk.services.documents.reading.model import (
    SOURCE_NONE,
    SOURCE_OCR,
    DocumentReading,
    Field,
    Line,
    Word,
)

TODAY = date(2025, 6, 1)


def line(text: str, confidence: float = 0.95, page: int = 0, row: int = 0) -> Line:
    words = []
    x = 0.05
    for token in text.split():
        width = 0.012 * len(token)
        words.append(Word(token, confidence, (x, 0.05 * row, x + width, 0.05 * row + 0.03)))
        x += width + 0.01
    return Line(page, tuple(words))


def lines(*texts: str, confidence: float = 0.95) -> list[Line]:
    return [line(t, confidence, row=i) for i, t in enumerate(texts)]


@pytest.mark.parametrize(
    "text",
    [
        "2025-03-14",
        "14/03/2025",
        "14 March 2025",
        "14 MAR 2025",
        "14.03.2025",
        "14-03-2025",
        "14 Maart 2025",
        "Date: 14 Mar. 2025",
        "March 14, 2025",
        "2025/03/14",
    ],
)
def test_dates_as_south_africans_write_them(text: str) -> None:
    assert extract.parse_date(text) == date(2025, 3, 14)


def test_impossible_dates_are_not_dates() -> None:
    assert extract.parse_date("31/02/2025") is None
    assert extract.parse_date("Total 1234 5678") is None


@pytest.mark.parametrize(
    "text", ["9909151135087", "990915 1135 087", "990915-1135-087", "99O9l5113S087", "‘9909151135087,"]
)
def test_id_numbers_in_their_printed_forms(text: str) -> None:
    found = extract.best_id_number([line(f"Identity number {text}")])
    assert found is not None and found.value == "9909151135087"
    assert found.note == "born 1999-09-15, female"


def test_lookalike_repairs_cost_confidence() -> None:
    clean = extract.best_id_number([line("9909151135087")])
    repaired = extract.best_id_number([line("99O9l5113S087")])
    assert clean is not None and repaired is not None
    assert repaired.confidence < clean.confidence


def test_a_failed_check_digit_is_never_sure() -> None:
    found = extract.best_id_number([line("9909151135088", confidence=0.99)])
    assert found is not None and not found.sure
    assert "check digit" in found.note


def test_valid_number_preferred_over_misread_one() -> None:
    found = extract.best_id_number([line("9909151135088", 0.99, row=0), line("8001015009087", 0.9, row=1)])
    assert found is not None and found.value == "8001015009087"


def test_id_document_fields_under_their_labels() -> None:
    page = lines(
        "Certified copy — Republic of South Africa Identity Document",
        "Surname / Van",
        "MOKOENA",
        "Forenames / Voorname",
        "THANDIWE GRACE",
        "Identity number",
        "9909151135087",
        "Date of birth",
        "15 SEP 1999",
        "CERTIFIED A TRUE COPY OF THE ORIGINAL",
        "Commissioner of Oaths: J. Smith",
        "Date: 2025-03-14 Signature: ____",
    )
    fields = {f.name: f for f in extract.extract("id_document", page)}
    assert fields["sa_id_number"].value == "9909151135087"
    assert fields["surname"].value == "MOKOENA"
    assert fields["names"].value == "THANDIWE GRACE"
    assert fields["date_of_birth"].value == "1999-09-15"
    assert fields["certification_date"].value == "2025-03-14"
    assert fields["commissioner"].value == "J SMITH"
    assert "COMMISSIONER OF OATHS" in fields["certification_stamp"].value
    # The heading's "Certified copy" is not the stamp: the stamp's box is the stamp's lines only.
    assert fields["certification_stamp"].box[1] > 0.4


def test_same_line_labels_and_ocr_misspelt_labels() -> None:
    fields = {f.name: f for f in extract.extract("id_document", lines("Sumame: NAUDÉ", "Names: ZOË"))}
    assert fields["surname"].value == "NAUDÉ"
    assert fields["names"].value == "ZOË"


def test_learner_name_on_a_qualification() -> None:
    page = lines("National Senior Certificate", "This is to certify that", "Thandiwe Mokoena", "obtained")
    found = {f.name: f for f in extract.extract("matric_certificate", page)}
    assert found["learner_name"].value == "THANDIWE MOKOENA"
    assert "certification_stamp" not in found


def test_certification_date_is_not_the_birth_date() -> None:
    page = lines(
        "Identity number 9909151135087", "CERTIFIED A TRUE COPY", "Born 15/09/1999", "Date 14 MAR 2025"
    )
    fields = {f.name: f for f in extract.extract("id_document", page)}
    assert fields["certification_date"].value == "2025-03-14"


# --- comparison --------------------------------------------------------------------------------


def reading(*fields: Field, document_type: str = "id_document") -> DocumentReading:
    return DocumentReading(document_type, SOURCE_OCR, 1, tuple(fields))


def field(name: str, value: str, confidence: float = 0.95, note: str = "") -> Field:
    return Field(name, value, confidence, 0, (0.1, 0.1, 0.3, 0.12), note)


CAPTURED = compare.Captured("Thandiwe", "Mokoena", "9909151135087", "1999-09-15")


def by_key(checks: list[compare.Check]) -> dict[str, compare.Check]:
    return {c.key: c for c in checks}


def test_matching_id_number_says_so() -> None:
    checks = by_key(
        compare.compare_document(reading(field("sa_id_number", "9909151135087")), CAPTURED, TODAY)
    )
    assert checks["sa_id_number"].status == compare.MATCH
    assert checks["sa_id_number"].message == "On the document: 9909151135087 — matches captured ✓"


def test_masked_viewers_see_the_number_masked() -> None:
    masked = compare.compare_document(
        reading(field("sa_id_number", "9909151135087")),
        CAPTURED,
        TODAY,
        mask=lambda v: v[:6] + "*****" + v[-2:],
    )
    assert "9909151135087" not in masked[0].message and "990915*****87" in masked[0].message


def test_different_id_number_in_words() -> None:
    checks = by_key(
        compare.compare_document(reading(field("sa_id_number", "8001015009087")), CAPTURED, TODAY)
    )
    check = checks["sa_id_number"]
    assert check.status == compare.MISMATCH
    assert "differs from captured 9909151135087" in check.message
    assert "date of birth" in check.message


@pytest.mark.parametrize("confidence", [0.0, 0.3, 0.6, 0.79])
def test_low_confidence_is_never_a_match(confidence: float) -> None:
    found = reading(
        field("sa_id_number", "9909151135087", confidence),
        field("surname", "MOKOENA", confidence),
        field("date_of_birth", "1999-09-15", confidence),
    )
    checks = compare.compare_document(found, CAPTURED, TODAY)
    assert all(c.status != compare.MATCH for c in checks if c.key != "certification_stamp")
    assert by_key(checks)["sa_id_number"].status == compare.UNSURE
    assert "low confidence" in by_key(checks)["sa_id_number"].message
    assert compare.precheck(checks) != compare.PRECHECK_MATCHES


def test_names_compare_without_accents_and_case() -> None:
    captured = compare.Captured("Zoë", "Naudé", "9909151135087")
    found = reading(field("surname", "NAUDE"), field("names", "ZOE ANNA"))
    checks = by_key(compare.compare_document(found, captured, TODAY))
    assert checks["surname"].status == compare.MATCH
    assert checks["names"].status == compare.MATCH
    other = by_key(compare.compare_document(reading(field("surname", "NAIDOO")), captured, TODAY))
    assert other["surname"].status == compare.MISMATCH
    assert other["surname"].message == "On the document: NAIDOO — captured as Naudé."


def certified_on(day: str) -> DocumentReading:
    return reading(field("certification_stamp", "TRUE COPY"), field("certification_date", day))


def certification(found: DocumentReading, max_age_days: int | None) -> compare.Check:
    checks = compare.compare_document(found, CAPTURED, TODAY, certification_max_age_days=max_age_days)
    return by_key(checks)["certification_date"]


def test_old_certification_is_flagged_by_the_cohorts_limit_in_words() -> None:
    old = certified_on("2025-02-01")  # 120 days before 1 June 2025
    flagged = certification(old, None)  # the default: 90 days
    assert flagged.status == compare.FLAGGED
    assert flagged.message == "Certified on 1 February 2025, 4 months ago; this cohort accepts 3 months."
    assert compare.precheck([flagged]) == compare.PRECHECK_MISMATCH
    assert certification(old, 180).status == compare.MATCH
    assert certification(old, 180).message == (
        "Certified on 1 February 2025, 4 months ago ✓ (this cohort accepts 6 months)"
    )
    longer = certification(certified_on("2024-11-20"), 90)
    assert longer.message == "Certified on 20 November 2024, 6 months ago; this cohort accepts 3 months."
    assert certification(certified_on("2025-05-02"), None).status == compare.MATCH
    in_days = certification(certified_on("2025-05-02"), 14)
    assert in_days.message == "Certified on 2 May 2025, 30 days ago; this cohort accepts 14 days."
    a_year = certification(certified_on("2023-06-01"), 365)
    assert a_year.message == "Certified on 1 June 2023, 2 years ago; this cohort accepts 1 year."


def test_just_past_the_limit_is_said_in_days() -> None:
    # 95 days: "3 months ago; accepts 3 months" would read as no problem at all.
    flagged = certification(certified_on("2025-02-26"), 90)
    assert flagged.status == compare.FLAGGED
    assert flagged.message == (
        "Certified on 26 February 2025, 95 days ago; this cohort accepts 3 months (90 days)."
    )
    assert certification(certified_on("2025-03-03"), 90).status == compare.MATCH  # exactly 90 days
    a_year = certification(certified_on("2024-05-17"), 365)  # 380 days: "12 months" is "1 year"
    assert a_year.message == "Certified on 17 May 2024, 380 days ago; this cohort accepts 1 year (365 days)."


def test_a_cohort_without_a_limit_accepts_any_age_and_says_so() -> None:
    check = certification(certified_on("2019-06-01"), 0)
    assert check.status == compare.INFO
    assert (
        check.message
        == "Certified on 1 June 2019, 6 years ago; this cohort accepts a certification of any age."
    )
    assert compare.precheck([check]) != compare.PRECHECK_MISMATCH
    assert certification(certified_on("2025-07-01"), 0).status == compare.FLAGGED  # the future still is


def test_precheck_results() -> None:
    good = compare.compare_document(reading(field("sa_id_number", "9909151135087")), CAPTURED, TODAY)
    bad = compare.compare_document(reading(field("sa_id_number", "8001015009087")), CAPTURED, TODAY)
    unsure = compare.compare_document(reading(field("sa_id_number", "9909151135087", 0.5)), CAPTURED, TODAY)
    blank = compare.compare_document(DocumentReading("id_document", SOURCE_NONE, 1), CAPTURED, TODAY)
    assert compare.precheck(good) == compare.PRECHECK_MATCHES
    assert compare.precheck(bad) == compare.PRECHECK_MISMATCH
    assert compare.precheck(unsure) == compare.PRECHECK_UNREADABLE
    assert compare.precheck(blank) == compare.PRECHECK_UNREADABLE
    assert compare.precheck([]) == ""


def test_cache_keeps_one_reading_per_version(tmp_path) -> None:
    cache = ReadingCache(tmp_path / "readings.sqlite3")
    first = reading(field("sa_id_number", "9909151135087"))
    cache.put("key1", "sum1", "tesseract 5", first)
    assert cache.get("key1", "sum1", "tesseract 5") == first
    assert cache.get("key1", "sum2", "tesseract 5") is None  # a re-upload is read again
    assert cache.get("key1", "sum1", "tesseract 6") is None  # so is everything after an engine update


def test_a_masked_captured_number_is_compared_on_its_visible_digits_only() -> None:
    masked = compare.Captured("Thandiwe", "Mokoena", "990915*****87")
    same = by_key(compare.compare_document(reading(field("sa_id_number", "9909151135087")), masked, TODAY))
    assert same["sa_id_number"].status == compare.UNSURE  # never a match: five digits are hidden
    assert "visible digits" in same["sa_id_number"].message
    other = by_key(compare.compare_document(reading(field("sa_id_number", "8001015009087")), masked, TODAY))
    assert other["sa_id_number"].status == compare.MISMATCH


def test_the_servers_answer_finishes_a_masked_comparison_without_showing_digits() -> None:
    masked = compare.Captured("Thandiwe", "Mokoena", "990915*****87")
    read = reading(field("sa_id_number", "9909151135087"))
    hidden_mask = lambda value: value[:6] + "*****" + value[11:]  # noqa: E731 - as the queue masks

    def id_check(answer: compare.ServerAnswer | None) -> compare.Check:
        answers = {"9909151135087": answer} if answer is not None else None
        checks = compare.compare_document(read, masked, TODAY, mask=hidden_mask, server_answers=answers)
        return by_key(checks)["sa_id_number"]

    yes = id_check(compare.ServerAnswer(matches=True))
    assert yes.status == compare.MATCH
    assert (
        yes.message
        == "On the document: 990915*****87 — matches captured ✓ (the hidden digits compared by the server)"
    )
    assert compare.precheck([yes]) == compare.PRECHECK_MATCHES
    no = id_check(compare.ServerAnswer(matches=False))
    assert no.status == compare.MISMATCH
    assert no.message == (
        "On the document: 990915*****87 — differs from captured 990915*****87 in the hidden digits "
        "(compared by the server)."
    )
    assert compare.precheck([no]) == compare.PRECHECK_MISMATCH
    waiting = id_check(compare.ServerAnswer(pending=True))
    assert waiting.status == compare.UNSURE and waiting.message.endswith(
        "the server is comparing the hidden digits…"
    )
    refused = id_check(compare.ServerAnswer(refusal="You have compared 3 different numbers."))
    assert refused.status == compare.UNSURE
    assert refused.message.endswith(
        "the server did not compare the hidden digits: You have compared 3 different numbers."
    )
    for check in (yes, no, waiting, refused):
        assert "1135" not in check.message  # the hidden digits never show
    # An answer about another number read is not this number's answer.
    other = compare.compare_document(
        read,
        masked,
        TODAY,
        mask=hidden_mask,
        server_answers={"9909155135083": compare.ServerAnswer(matches=True)},
    )
    assert by_key(other)["sa_id_number"].status == compare.UNSURE


def test_only_a_clear_reading_agreeing_with_the_visible_digits_goes_to_the_server() -> None:
    masked = compare.Captured("Thandiwe", "Mokoena", "990915*****87")
    assert compare.needs_server(field("sa_id_number", "9909151135087"), masked)
    assert not compare.needs_server(field("sa_id_number", "9909151135087", 0.5), masked)  # unsure
    assert not compare.needs_server(field("sa_id_number", "8001015009087"), masked)  # visible digits differ
    assert not compare.needs_server(field("sa_id_number", "9909151135087"), CAPTURED)  # nothing hidden
    assert not compare.needs_server(None, masked)
    assert not compare.needs_server(field("sa_id_number", "9909151135087"), compare.Captured("A", "B", ""))
