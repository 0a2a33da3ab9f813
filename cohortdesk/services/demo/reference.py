"""The demo's reference data: South African names, cities, code weights, e-mail domains, commissioners of
oaths, the document pack per programme, canned reasons, and the two institutions with their cohorts; and
the small seeded helpers that draw from them (ID numbers, weighted choices, ages)."""

from __future__ import annotations

import functools
import itertools
import random
import string
import unicodedata
from datetime import date
from typing import Any

from cohortdesk.services.configuration.rejection_reasons import DEFAULT_REJECTION_REASONS
from cohortdesk.services.validation import luhn_valid

#: The demo accounts' uuids are fixed whatever the seed: they mark a database that holds the demo.
DEMO_ACCOUNT_UUIDS = ("00000000-de70-4000-8000-000000000001", "00000000-de70-4000-8000-000000000002")


#: DocuSeal role given to student users: the least privileged role DocuSeal knows.
STUDENT_USER_ROLE = "viewer"


STAFF_USER_ROLE = "admin"


def names_of(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(","))


# group: (female first names, male first names, surnames)
NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "BA": (
        names_of(
            "Nomvula, Thandiwe, Lerato, Zanele, Ayanda, Naledi, Refilwe, Lindiwe, Nokuthula, Khanyisile, "
            "Boitumelo, Lesego, Rethabile, Masego, Busisiwe, Ntombi, Nandi, Kgomotso, Palesa, Dineo, Mpho, "
            "Nthabiseng, Zinhle, Sibongile, Precious, Nosipho, Ziyanda, Amahle, Onalenna, Tshegofatso"
        ),
        names_of(
            "Sipho, Themba, Bongani, Kagiso, Tshepo, Nkosinathi, Siyabonga, Lwazi, Xolani, Thabo, Dumisani, "
            "Mandla, Tumelo, Kabelo, Thulani, Sibusiso, Andile, Vusi, Sizwe, Lebogang, Katlego, Mthunzi, "
            "Lungelo, Bheki, Tebogo, Olwethu, Lutho, Blessing, Given, Hlulani"
        ),
        names_of(
            "Nkosi, Dlamini, Mokoena, Ndlovu, Khumalo, Mahlangu, Zulu, Mthembu, Molefe, Mabaso, Sithole, "
            "Mkhize, Ngcobo, Radebe, Maseko, Baloyi, Maluleke, Mathebula, Shabalala, Tshabalala, Motaung, "
            "Letsoalo, Masilela, Mabunda, Ngubane, Mkhabela, Ntuli, Zwane, Nxumalo, Mbatha, Buthelezi, Cele, "
            "Gumede, Hlongwane, Kubheka, Magagula, Nhlapo, Sehloho, Phiri, Mofokeng, Modise, Makgoba, "
            "Mashaba, Mudau, Tshivhase, Ravele"
        ),
    ),
    "BC": (
        names_of("Chanté, Monique, Shireen, Natasha, Ashleigh, Candice, Lee-Ann, Rochelle, Jolene, Mikayla"),
        names_of("Ashwin, Reagan, Jody, Clinton, Ebrahim, Waylon, Keenan, Shaun, Denver, Ruan"),
        names_of(
            "Adams, Jacobs, Petersen, Hendricks, Williams, Isaacs, Abrahams, Davids, Solomons, Januarie, "
            "Cloete, Arendse, Fortuin, Daniels, Booysen, September, van Wyk, de Bruyn"
        ),
    ),
    "BI": (
        names_of("Priya, Kavitha, Fatima, Ayesha, Nishana, Shanice, Reshma, Yashika, Zaheera, Deshnee"),
        names_of("Yusuf, Reza, Kiran, Pravesh, Suren, Nikhil, Imraan, Rajesh, Devan, Zaid"),
        names_of(
            "Naidoo, Pillay, Govender, Moodley, Chetty, Reddy, Padayachee, Singh, Maharaj, Khan, Patel, "
            "Moosa, Essop, Ramsamy, Perumal"
        ),
    ),
    "Wh": (
        names_of(
            "Zoë, Chloë, Renée, Liezl, Anél, Annelie, Marné, Elmarie, Karien, Sarah, Emma, Megan, Mariëtte, "
            "Leané"
        ),
        names_of(
            "André, Jean-Pierre, Ruan, Pieter, Johan, François, Hendrik, Liam, Daniel, Wian, Jaco, Gerhard, "
            "Connor, Stefan"
        ),
        names_of(
            "Botha, van der Merwe, le Roux, du Plessis, Nel, Coetzee, Smith, Fourie, Kruger, Steyn, de "
            "Villiers, Swart, Olivier, Pretorius, Naudé, Lötter, Müller, O'Neill, van Niekerk, Venter, "
            "Joubert, Marais, Erasmus, McDonald"
        ),
    ),
}


RACE_WEIGHTS = (("BA", 78), ("BC", 9), ("BI", 4), ("Wh", 7), ("Oth", 1), ("U", 1))


DISABILITY_WEIGHTS = (
    ("N", 920), ("01", 14), ("02", 12), ("03", 6), ("04", 22), ("05", 6), ("06", 8), ("07", 4), ("09", 8)
)  # fmt: skip


#: City, SETMIS province code, weight.
CITIES = (
    ("Johannesburg", "7", 14), ("Soweto", "7", 9), ("Tembisa", "7", 5), ("Pretoria", "7", 8),
    ("Soshanguve", "7", 3), ("Durban", "5", 8), ("Pietermaritzburg", "5", 3), ("Richards Bay", "5", 2),
    ("Cape Town", "1", 8), ("Khayelitsha", "1", 4), ("Mitchells Plain", "1", 3), ("Stellenbosch", "1", 1),
    ("George", "1", 1), ("Gqeberha", "2", 4), ("East London", "2", 2), ("Mthatha", "2", 2),
    ("Mdantsane", "2", 1), ("Bloemfontein", "4", 3), ("Welkom", "4", 1), ("Polokwane", "9", 3),
    ("Thohoyandou", "9", 1), ("Mbombela", "8", 2), ("eMalahleni", "8", 2), ("Rustenburg", "6", 2),
    ("Mahikeng", "6", 1), ("Kimberley", "3", 1), ("Upington", "3", 1),
)  # fmt: skip


EMAIL_DOMAINS = (
    "gmail.example.com",
    "webmail.example.co.za",
    "students.example.ac.za",
    "vodamail.example.co.za",
)


COMMISSIONERS = (
    "Sgt. T. Mahlangu", "Const. R. Naidoo", "W/O L. Botha", "Adv. P. Ngcobo", "Capt. J. Pretorius",
    "Const. Z. Mbatha", "M. Essop (Attorney)", "Sgt. N. Dlamini",
)  # fmt: skip


PROGRAMME_DOCS = {
    "learnership": (
        "id_document",
        "matric_certificate",
        "cv",
        "proof_of_residence",
        "bank_confirmation_letter",
    ),
    "internship": (
        "id_document",
        "matric_certificate",
        "tertiary_qualification",
        "cv",
        "bank_confirmation_letter",
    ),
    "candidacy": ("id_document", "tertiary_qualification", "cv"),
}


REASONS_FOR = {
    "id_document": ("not_certified", "smart_id_one_side_missing", "illegible", "name_mismatch"),
    "matric_certificate": ("not_certified", "certification_too_old", "illegible", "wrong_document"),
    "tertiary_qualification": ("foreign_qualification_needs_saqa", "not_certified", "pages_missing"),
    "cv": ("pages_missing", "illegible", "wrong_document"),
    "proof_of_residence": ("wrong_document", "illegible", "name_mismatch"),
    "bank_confirmation_letter": ("name_mismatch", "wrong_document"),
    "disability_proof": ("disability_letter_incomplete",),
}


REASON_MESSAGES = {r.code: r.message for r in DEFAULT_REJECTION_REASONS}


INSTITUTIONS = (
    {
        "account": "Ikhwezi Skills Academy",
        "name": "Ikhwezi Skills Academy (Pty) Ltd",
        "domain": "ikhwezi-skills.example.co.za",
        "registration_number": "QCTO SDP/1204/22",
        "address": "3rd Floor, 88 Commissioner Street, Marshalltown, Johannesburg, 2001",
        "phone": "011 555 0142",
        "hosting": "South Africa (Johannesburg data centre)",
        "staff": (("Nomsa", "Dube"), ("Pieter", "van Rensburg"), ("Ayesha", "Moosa"), ("Lwazi", "Ngema")),
        "sponsors": (
            ("Mzansi Mining Holdings (Pty) Ltd", "Karabo Sekhukhune", "4120567893"),
            ("Bokamoso Retail Group Ltd", "Liesl Engelbrecht", "4390218876"),
            ("Vaal Logistics (Pty) Ltd", "Sanjay Govender", "4781120934"),
        ),
    },
    {
        "account": "Umoya Training Institute",
        "name": "Umoya Training Institute NPC",
        "domain": "umoya-training.example.co.za",
        "registration_number": "QCTO SDP/0871/21",
        "address": "Unit 5, Harbour Park, 12 Marine Drive, Paarden Eiland, Cape Town, 7405",
        "phone": "021 555 0198",
        "hosting": "South Africa (Cape Town data centre)",
        "staff": (("Charlene", "Fortuin"), ("Sibusiso", "Khoza"), ("Megan", "O'Reilly")),
        "sponsors": (
            ("Karoo Solar Energy (Pty) Ltd", "Johan Lötter", "4012874455"),
            ("Indlovu Financial Services Ltd", "Thandeka Zungu", "4652210987"),
            ("Atlantic Hospitality Group (Pty) Ltd", "Marco de Sousa", "4230096612"),
        ),
    },
)


# (institution, name, programme, state, sponsor index, share of the enrollments)
COHORTS = (
    (0, "Q1 2026 Retail Learnership (NQF 4)", "learnership", "active", 1, 20),
    (0, "2026 Electrical Engineering Learnership", "learnership", "active", 0, 14),
    (0, "2026 Graduate Internship — Finance", "internship", "active", 2, 11),
    (0, "2026 Candidate Engineers Programme", "candidacy", "active", 0, 6),
    (0, "2025 Contact Centre Learnership", "learnership", "completed", 1, 9),
    (0, "2025 IT Support Internship", "internship", "completed", 2, 4),
    (0, "Q3 2026 Logistics Learnership", "learnership", "draft", 2, 0),
    (0, "2026 Mining Candidacy (Surveying)", "candidacy", "cancelled", 0, 2),
    (1, "2026 Hospitality Learnership", "learnership", "active", 2, 12),
    (1, "2026 N-Diploma Internship (Engineering)", "internship", "active", 0, 8),
    (1, "2026 Candidate Accountants", "candidacy", "active", 1, 5),
    (1, "2024 Candidate Attorneys", "candidacy", "completed", 1, 3),
    (1, "2026 Renewable Energy Internship", "internship", "draft", 0, 1),
    (1, "2026 Tourism Learnership", "learnership", "cancelled", 2, 3),
    (1, "2025 Tourism Internship", "internship", "cancelled", 2, 2),
    (1, "2027 Candidate Actuaries", "candidacy", "draft", 1, 0),
)


COHORT_SHARES = tuple((index, cohort[5]) for index, cohort in enumerate(COHORTS))


B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


B36 = string.ascii_lowercase + string.digits


def sa_id_number(dob: date, sex: str, rng: random.Random, citizen: bool = True) -> str:
    """A valid SA ID number for a date of birth and register sex (Luhn check digit included)."""
    sequence = rng.randrange(0, 5000) if sex == "F" else rng.randrange(5000, 10000)
    body = f"{dob:%y%m%d}{sequence:04d}{0 if citizen else 1}8"
    total = 0
    for index, char in enumerate(reversed(body)):  # the check digit will sit to the right of these
        value = int(char) * (2 if index % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    number = body + str((10 - total % 10) % 10)
    assert luhn_valid(number)
    return number


def ascii_fold(value: str) -> str:
    folded = unicodedata.normalize("NFKD", value)
    return "".join(c for c in folded if c.isascii() and c.isalnum())


@functools.lru_cache(maxsize=64)
def cumulative_weights(table: tuple[tuple[Any, ...], ...]) -> tuple[tuple[Any, ...], tuple[int, ...]]:
    return tuple(row[0] if len(row) == 2 else row for row in table), tuple(
        itertools.accumulate(row[-1] for row in table)
    )


def weighted(rng: random.Random, table: tuple[tuple[Any, ...], ...]) -> Any:
    """One value of ``table`` (rows ending in their weight); whole rows when they carry more than a value."""
    values, cumulative = cumulative_weights(table)
    return rng.choices(values, cum_weights=cumulative)[0]


def age_on(dob: date, on: date) -> int:
    return on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day))
