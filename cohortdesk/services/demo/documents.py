"""The demo's documents: each planned upload made as a real file and stored through ``DocumentStore`` (files
reused beyond ``unique_file_students``), and removed again when a load fails."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, timedelta

from cohortdesk.services.demo import files
from cohortdesk.services.demo.planning import DemoCancelled, EnrollmentPlan, Planner, ProgressFn, StudentPlan
from cohortdesk.services.demo.reference import (
    COHORTS,
    COMMISSIONERS,
    INSTITUTIONS,
    PROGRAMME_DOCS,
    sa_id_number,
)
from cohortdesk.services.documents.storage import StoredFile


class FileWriter(Planner):
    """Writes the planned files (the second layer of ``DemoGenerator``)."""

    # --- files -------------------------------------------------------------------------------------

    def _make_file(self, student: StudentPlan, doc: str, version: int, when: date) -> files.DemoFile:
        rng = self.rng
        person = student.person()
        commissioner = rng.choice(COMMISSIONERS)
        certified = when - timedelta(days=rng.randrange(2, 80))
        if doc == "id_document":
            roll = rng.random()
            # Scans, their flaws and the deliberate pre-check cases come from a generator of their
            # own, so the rest of the demo stays the same for a given seed.
            scan = random.Random(self.seed * 7919 + student.index * 31 + version)
            quality = files.degraded_quality(scan) if scan.random() < 0.5 else files.CLEAN_SCAN
            other_number = None
            kind = student.index % 40
            if kind == 11 and student.sa_id_number:  # the document carries someone else's number
                other_number = sa_id_number(student.id_date_of_birth, student.gender, scan)
            elif kind == 23:  # certified long ago: older than a three-month limit
                certified = when - timedelta(days=scan.randrange(150, 400))
            if roll < 0.25:
                orientation = rng.choice((6, 6, 8, 3, 1))
                shade = rng.randrange(20)
                if other_number or scan.random() < 0.6:
                    return files.id_card_photo_scan_jpeg(person, quality, orientation, other_number)
                return files.id_card_photo_jpeg(person, orientation=orientation, shade=shade)
            if roll < 0.33 and not other_number:
                return files.multipage_tiff(person, "Certified copy — identity document", pages=2)
            pages = 2 if rng.random() < 0.4 else 1
            if other_number or kind == 23 or scan.random() < 0.5:
                return files.certified_id_scan_jpeg(person, certified, commissioner, quality, other_number)
            return files.id_document_pdf(person, certified, commissioner, pages=pages)
        if doc == "matric_certificate":
            return files.matric_certificate_pdf(
                person, student.date_of_birth.year + 18, certified, commissioner
            )
        if doc == "cv":
            return files.cv_pdf(person, student.email, student.phone, pages=rng.choice((1, 2, 2, 3)))
        if doc == "proof_of_residence" and rng.random() < 0.35:
            return files.scanned_letter_png(person, "Municipal account — proof of residence", when)
        if doc == "disability_proof" and rng.random() < 0.3:
            return files.multipage_tiff(person, "Medical practitioner's letter", pages=3)
        detail = {
            "bank_confirmation_letter": f"Account holder: {person.full_name}; savings account ****{rng.randrange(10000):04d}",
            "disability_proof": f"Practice number {rng.randrange(10**6, 10**7)}; condition code {student.disability}",
            "tertiary_qualification": "Diploma in Management, NQF level 6, awarded with distinction",
        }.get(doc, "")
        return files.letter_pdf(person, doc, when, detail)

    def _put(self, demo_file: files.DemoFile) -> StoredFile:
        stored = self.store.put(
            demo_file.data, demo_file.file_name, demo_file.content_type, key=self._blob_key()
        )
        self.written.append(stored)
        return stored

    def write_files(self, report: ProgressFn, cancelled: Callable[[], bool] | None) -> None:
        for inst_index, inst in enumerate(INSTITUTIONS):
            for programme in PROGRAMME_DOCS:
                title = f"{programme.capitalize()} Agreement"
                demo_file = files.agreement_pdf(title, str(inst["name"]), pages=3)
                self.template_files[f"{inst_index}:{programme}"] = (self._put(demo_file), demo_file)
            for name in (
                "POPIA Consent Form",
                "Fixed-term Employment Contract (s18(2))",
                "Learner Code of Conduct",
            ):
                demo_file = files.agreement_pdf(name, str(inst["name"]), pages=1)
                self.template_files[f"{inst_index}:{name}"] = (self._put(demo_file), demo_file)
        done = 0
        for plan in self.plans:
            student = plan.student
            if student.index >= self.unique_files or not plan.uploaded:
                continue
            home = COHORTS[plan.cohort][0]
            for doc in plan.uploaded:
                versions = (0, 1) if doc == plan.resubmitted else (0,)
                for version in versions:
                    key = (home, student.index, doc, version)
                    if key in self.file_pool:
                        continue
                    if doc == "id_document" and plan.shared_file_from is not None and version == 0:
                        donor = self.file_pool.get((home, plan.shared_file_from, doc, 0))
                        if donor is not None:
                            self.file_pool[key] = donor
                            continue
                    when = plan.last_upload_at.date()
                    demo_file = self._make_file(student, doc, version, when)
                    self.file_pool[key] = (self._put(demo_file), demo_file)
            done += 1
            if done % 100 == 0:
                if cancelled is not None and cancelled():
                    raise DemoCancelled("Loading the demo data was cancelled; nothing was added.")
                report(0, self.n, f"Writing documents for {done:,} students")
        # Students beyond the unique-file range reuse these files, per institution and document type.
        self.pool_by_doc: dict[tuple[int, str], list[tuple[StoredFile, files.DemoFile]]] = {}
        for (home, _index, doc, _version), entry in self.file_pool.items():
            self.pool_by_doc.setdefault((home, doc), []).append(entry)
        needed = {
            (COHORTS[plan.cohort][0], doc)
            for plan in self.plans
            if plan.student.index >= self.unique_files
            for doc in plan.uploaded
        }
        for home, doc in sorted(needed - set(self.pool_by_doc)):
            student = next(
                p.student for p in self.plans if doc in p.uploaded and COHORTS[p.cohort][0] == home
            )
            demo_file = self._make_file(student, doc, 0, self.now.date())
            self.pool_by_doc[(home, doc)] = [(self._put(demo_file), demo_file)]

    def remove_files(self) -> None:
        for stored in self.written:
            try:
                self.store.path_for_key(stored.key).unlink(missing_ok=True)
            except OSError:
                pass
        self.written.clear()

    def _pool_file(self, plan: EnrollmentPlan, doc: str, version: int) -> tuple[StoredFile, files.DemoFile]:
        inst = COHORTS[plan.cohort][0]
        own = self.file_pool.get((inst, plan.student.index, doc, version))
        if own is not None:
            return own
        candidates = self.pool_by_doc[(inst, doc)]
        return candidates[plan.student.index % len(candidates)]
