"""The rules that turn a page's lines into fields: SA ID numbers, dates as South Africans write them,
names under their labels, and the certification stamp with its date. Pure functions; no engine here.

OCR misreads look-alike characters inside numbers (``O``/``0``, ``l``/``1``, ``S``/``5``, ``B``/``8``):
tokens that are mostly digits are read as digits, and a value that needed such a repair loses some
confidence. An ID number whose check digit fails is kept with a note and a low confidence, so the
comparison shows it as unsure instead of matching or contradicting anything.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from difflib import SequenceMatcher

from cohortdesk.services.documents.reading.model import Box, Field, Line, Word, union
from cohortdesk.services.validation import canonical_document_type, decode_sa_id, luhn_valid

#: Characters OCR confuses with digits, read as the digit inside a mostly-numeric token.
DIGIT_LOOKALIKES = str.maketrans(
    {
        "O": "0",
        "o": "0",
        "D": "0",
        "Q": "0",
        "I": "1",
        "l": "1",
        "|": "1",
        "i": "1",
        "!": "1",
        "]": "1",
        "S": "5",
        "s": "5",
        "B": "8",
        "Z": "2",
        "z": "2",
        "G": "6",
        "b": "6",
        "T": "7",
        "g": "9",
        "q": "9",
    }
)
#: A value that needed a look-alike repair keeps this share of its confidence.
REPAIR_PENALTY = 0.85
#: An ID number failing its check digit is never sure.
BAD_CHECK_CONFIDENCE = 0.3

MONTHS = {
    "jan": 1,
    "january": 1,
    "januarie": 1,
    "feb": 2,
    "february": 2,
    "februarie": 2,
    "mar": 3,
    "march": 3,
    "maart": 3,
    "mrt": 3,
    "apr": 4,
    "april": 4,
    "may": 5,
    "mei": 5,
    "jun": 6,
    "june": 6,
    "junie": 6,
    "jul": 7,
    "july": 7,
    "julie": 7,
    "aug": 8,
    "august": 8,
    "augustus": 8,
    "sep": 9,
    "sept": 9,
    "september": 9,
    "oct": 10,
    "october": 10,
    "okt": 10,
    "oktober": 10,
    "nov": 11,
    "november": 11,
    "dec": 12,
    "december": 12,
    "des": 12,
    "desember": 12,
}
_MONTH_NAMES = "|".join(sorted(MONTHS, key=len, reverse=True))
_DATE_PATTERNS = (
    re.compile(r"(?<!\d)(?P<y>(?:19|20)\d\d)\s?[-/.]\s?(?P<m>\d{1,2})\s?[-/.]\s?(?P<d>\d{1,2})(?!\d)"),
    re.compile(r"(?<!\d)(?P<d>\d{1,2})\s?[-/.]\s?(?P<m>\d{1,2})\s?[-/.]\s?(?P<y>(?:19|20)\d\d)(?!\d)"),
    re.compile(
        rf"(?<!\d)(?P<d>\d{{1,2}})\s*(?P<mon>{_MONTH_NAMES})\.?,?\s*(?P<y>(?:19|20)\d\d)(?!\d)", re.IGNORECASE
    ),
    re.compile(
        rf"(?P<mon>{_MONTH_NAMES})\.?\s+(?P<d>\d{{1,2}}),?\s+(?P<y>(?:19|20)\d\d)(?!\d)", re.IGNORECASE
    ),
)

LABELS: dict[str, tuple[str, ...]] = {
    "surname": ("surname", "surname van", "van", "last name", "family name"),
    "names": ("names", "forenames", "forenames voorname", "voorname", "first names", "given names"),
    "date_of_birth": ("date of birth", "geboortedatum", "date of birth geboortedatum", "born"),
    "sa_id_number": ("identity number", "id number", "id no", "identiteitsnommer", "identity no"),
}
_ALL_LABELS = {phrase for phrases in LABELS.values() for phrase in phrases} | {
    "sex",
    "geslag",
    "nationality",
    "country of birth",
    "status",
    "photo",
    "signature",
}
LEARNER_NAME_CUES = (
    "certify that",
    "certifies that",
    "awarded to",
    "conferred on",
    "conferred upon",
    "to whom it may concern",
    "this is to certify",
)
# A heading such as "Certified copy of ..." is not a stamp: only the stamp's own wording counts.
STAMP_PHRASES = {
    "true copy": "TRUE COPY",
    "of the original": "OF THE ORIGINAL",
    "commissioner of oaths": "COMMISSIONER OF OATHS",
    "ex officio": "EX OFFICIO",
}
QUALIFICATION_TYPES = {"matric_certificate", "tertiary_qualification", "international_certificate"}


@dataclass(frozen=True)
class _Token:
    text: str  # as normalised for matching
    word: Word
    start: int
    end: int
    repaired: bool


@dataclass(frozen=True)
class _Text:
    """A line as one string, each word's span known, so a match maps back to words and boxes."""

    line: Line
    text: str
    tokens: tuple[_Token, ...]

    def words_in(self, start: int, end: int) -> list[_Token]:
        return [t for t in self.tokens if t.start < end and t.end > start]


def _mostly_digits(token: str) -> bool:
    digits = sum(c.isdigit() for c in token)
    letters = sum(c.isalpha() for c in token)
    return digits > 0 and digits >= 2 * letters


def _normalise(line: Line) -> _Text:
    parts: list[str] = []
    tokens: list[_Token] = []
    position = 0
    for word in line.words:
        text = word.text
        repaired = False
        if _mostly_digits(text):
            fixed = text.translate(DIGIT_LOOKALIKES)
            repaired = fixed != text
            text = fixed
        if parts:
            position += 1
        tokens.append(_Token(text, word, position, position + len(text), repaired))
        parts.append(text)
        position += len(text)
    return _Text(line, " ".join(parts), tuple(tokens))


def _confidence(tokens: Sequence[_Token]) -> float:
    value = min((t.word.confidence for t in tokens), default=0.0)
    if any(t.repaired for t in tokens):
        value *= REPAIR_PENALTY
    return value


def _box(tokens: Iterable[_Token]) -> Box:
    return union(t.word.box for t in tokens)


def _letters(text: str) -> str:
    return " ".join(re.sub(r"[^a-z ]+", " ", text.lower()).split())


def _similar(a: str, b: str) -> float:
    return SequenceMatcher(None, a, b).ratio()


# --- SA ID numbers -------------------------------------------------------------------------------


def find_id_numbers(lines: Sequence[Line]) -> list[Field]:
    """Every 13-digit run (spaces or dashes between digit groups allowed) as a candidate field."""
    found: list[Field] = []
    seen: set[tuple[int, str, Box]] = set()
    for line in lines:
        norm = _normalise(line)
        tokens = norm.tokens
        for first in range(len(tokens)):
            digits = ""
            used: list[_Token] = []
            for token in tokens[first : first + 5]:
                chunk = re.sub(r"[^0-9]", "", token.text)
                stripped = token.text.strip("‘’'\",.;:()[]-–")
                if not chunk or not re.fullmatch(r"[0-9\- ]+", stripped):
                    break
                digits += chunk
                used.append(token)
                if len(digits) >= 13:
                    break
            if len(digits) != 13:
                continue
            key = (line.page, digits, _box(used))
            if key in seen:
                continue
            seen.add(key)
            confidence = _confidence(used)
            note = ""
            if not luhn_valid(digits):
                confidence = min(confidence, BAD_CHECK_CONFIDENCE)
                note = "the check digit does not match (misread, or not a valid ID number)"
            else:
                info = decode_sa_id(digits)
                if info.date_of_birth is None:
                    confidence = min(confidence, BAD_CHECK_CONFIDENCE)
                    note = "the first six digits are not a date of birth"
                else:
                    sex = "female" if info.sex == "F" else "male"
                    note = f"born {info.date_of_birth.isoformat()}, {sex}"
            found.append(Field("sa_id_number", digits, confidence, line.page, _box(used), note))
    return found


def best_id_number(lines: Sequence[Line]) -> Field | None:
    candidates = find_id_numbers(lines)
    if not candidates:
        return None
    return max(candidates, key=lambda f: (not f.note.startswith("the "), f.confidence))


# --- dates -------------------------------------------------------------------------------------------


def parse_date(text: str) -> date | None:
    """A date written as 2025-03-14, 14/03/2025, 14.03.2025, 14 March 2025 or 14 MAR 2025."""
    for found in _find_dates_in(text):
        return found[0]
    return None


def _find_dates_in(text: str) -> list[tuple[date, int, int]]:
    out: list[tuple[date, int, int]] = []
    taken: list[tuple[int, int]] = []
    for pattern in _DATE_PATTERNS:
        for match in pattern.finditer(text):
            if any(match.start() < end and match.end() > start for start, end in taken):
                continue
            groups = match.groupdict()
            month = MONTHS.get(groups["mon"].lower()) if groups.get("mon") else int(groups["m"])
            try:
                value = date(int(groups["y"]), int(month or 0), int(groups["d"]))
            except ValueError:
                continue
            taken.append((match.start(), match.end()))
            out.append((value, match.start(), match.end()))
    return sorted(out, key=lambda item: item[1])


def find_dates(line: Line, name: str = "date") -> list[Field]:
    norm = _normalise(line)
    fields = []
    for value, start, end in _find_dates_in(norm.text):
        tokens = norm.words_in(start, end)
        fields.append(Field(name, value.isoformat(), _confidence(tokens), line.page, _box(tokens)))
    return fields


# --- labels and names --------------------------------------------------------------------------------


def _label_of(line: Line) -> tuple[str, list[Word]] | None:
    """(field, the words after the label on the same line) when the line starts with a known label."""
    words = list(line.words)
    best: tuple[float, int, str] | None = None
    for count in range(1, min(4, len(words)) + 1):
        if not re.search(r"[A-Za-z]", words[count - 1].text):
            break  # a label is words; a number or date after it is the value
        head = _letters(" ".join(w.text for w in words[:count]))
        if not head:
            continue
        for field_name, phrases in LABELS.items():
            score = max(_similar(head, phrase) for phrase in phrases)
            if score >= 0.75 and (best is None or score >= best[0]):
                best = (score, count, field_name)
    if best is None:
        return None
    _score, count, field_name = best
    rest = words[count:]
    while rest and not re.search(r"[A-Za-z0-9]", rest[0].text):
        rest = rest[1:]
    # "Surname / Van": the Afrikaans half of a bilingual label is not the value.
    while rest and _letters(rest[0].text) in {"van", "voorname", "geboortedatum", "number", "no"}:
        rest = rest[1:]
    return field_name, rest


def _is_label(line: Line) -> bool:
    text = _letters(line.text)
    return bool(text) and (
        _label_of(line) is not None or any(_similar(text, label) >= 0.8 for label in _ALL_LABELS)
    )


def _name_value(words: Sequence[Word]) -> tuple[str, float, Box] | None:
    kept = [w for w in words if re.search(r"[A-Za-zÀ-ÿ]", w.text)]
    if not kept:
        return None
    text = " ".join(re.sub(r"[^A-Za-zÀ-ÿ'\- ]", "", w.text) for w in kept)
    text = " ".join(text.upper().split())
    if len(text.replace(" ", "")) < 2:
        return None
    return text, min(w.confidence for w in kept), union(w.box for w in kept)


def _value_after(lines: Sequence[Line], index: int, same_line: list[Word]) -> list[Word] | None:
    if same_line:
        return same_line
    for follower in lines[index + 1 : index + 3]:
        if follower.page != lines[index].page:
            return None
        if _is_label(follower):
            return None
        return list(follower.words)
    return None


def labelled_fields(lines: Sequence[Line]) -> list[Field]:
    out: list[Field] = []
    for index, line in enumerate(lines):
        found = _label_of(line)
        if found is None:
            continue
        field_name, rest = found
        words = _value_after(lines, index, rest)
        if not words:
            continue
        page = line.page
        if field_name in ("surname", "names"):
            value = _name_value(words)
            if value is not None:
                out.append(Field(field_name, value[0], value[1], page, value[2]))
        elif field_name == "date_of_birth":
            dates = find_dates(Line(page, tuple(words)), "date_of_birth")
            out.extend(dates[:1])
        elif field_name == "sa_id_number":
            candidate = best_id_number([Line(page, tuple(words))])
            if candidate is not None:
                out.append(candidate)
    return out


def learner_name(lines: Sequence[Line]) -> Field | None:
    for index, line in enumerate(lines):
        lowered = _letters(line.text)
        for cue in LEARNER_NAME_CUES:
            at = lowered.find(cue)
            if at < 0:
                continue
            # Words after the cue on the same line, else the next line.
            cue_words = len(lowered[: at + len(cue)].split())
            rest = [w for w in line.words[cue_words:] if re.search(r"[A-Za-z]", w.text)]
            words = rest or _value_after(lines, index, [])
            if not words:
                continue
            value = _name_value(words)
            if value is not None:
                return Field("learner_name", value[0], value[1], line.page, value[2])
    return None


# --- certification ----------------------------------------------------------------------------------


def certification_fields(lines: Sequence[Line], exclude_dates: set[str]) -> list[Field]:
    stamp_lines: list[int] = []
    phrases: list[str] = []
    for index, line in enumerate(lines):
        lowered = _letters(line.text)
        hit = [label for phrase, label in STAMP_PHRASES.items() if phrase in lowered]
        if hit:
            stamp_lines.append(index)
            phrases.extend(p for p in hit if p not in phrases)
    if not stamp_lines:
        return []
    stamp = [lines[i] for i in stamp_lines]
    confidence = min(line.confidence for line in stamp)
    fields = [
        Field(
            "certification_stamp", "; ".join(phrases), confidence, stamp[0].page, union(x.box for x in stamp)
        )
    ]
    for index in stamp_lines:
        lowered = _letters(lines[index].text)
        if "commissioner of oaths" in lowered and not any(f.name == "commissioner" for f in fields):
            words = list(lines[index].words)
            text = " ".join(w.text for w in words)
            if ":" in text:
                after = text.split(":", 1)[1].split()
                tail = words[len(words) - len(after) :] if after else []
                value = _name_value(tail)
                if value is not None:
                    fields.append(Field("commissioner", value[0], value[1], lines[index].page, value[2]))
    # The certification date: in the stamp's lines or just after them on the same page, a line
    # saying "date" first.
    first, page = stamp_lines[0], lines[stamp_lines[0]].page
    window = [line for line in lines[first : stamp_lines[-1] + 4] if line.page == page]
    candidates: list[tuple[bool, Field]] = []
    for line in window:
        for found in find_dates(line, "certification_date"):
            if found.value in exclude_dates:
                continue
            candidates.append(("date" in _letters(line.text), found))
    if candidates:
        candidates.sort(key=lambda item: not item[0])
        fields.append(candidates[0][1])
    return fields


# --- a whole document -------------------------------------------------------------------------------


def extract(document_type: str, lines: Sequence[Line]) -> tuple[Field, ...]:
    """The fields this type of document carries, each once, most confident first."""
    doc_type = canonical_document_type(document_type)
    fields: list[Field] = []
    labelled = labelled_fields(lines)
    id_number = best_id_number(lines)
    labelled_id = [f for f in labelled if f.name == "sa_id_number"]
    if labelled_id:
        id_number = max(labelled_id, key=lambda f: (not f.note.startswith("the "), f.confidence))
    if id_number is not None:
        fields.append(id_number)
    exclude: set[str] = set()
    if doc_type == "id_document":
        for name in ("surname", "names", "date_of_birth"):
            best = max((f for f in labelled if f.name == name), key=lambda f: f.confidence, default=None)
            if best is not None:
                fields.append(best)
                if name == "date_of_birth":
                    exclude.add(best.value)
        if id_number is not None and not id_number.note.startswith("the "):
            born = decode_sa_id(id_number.value).date_of_birth
            if born is not None:
                exclude.add(born.isoformat())
    if doc_type in QUALIFICATION_TYPES:
        learner = learner_name(lines)
        if learner is not None:
            fields.append(learner)
    fields.extend(certification_fields(lines, exclude))
    return tuple(fields)
