"""The sponsors page: the companies that fund cohorts, with their contact and SARS tax number."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QGroupBox, QLabel, QLineEdit, QVBoxLayout, QWidget

from cohortdesk.services.configuration import screens as config
from cohortdesk.services.configuration.screens import FieldProblem, SponsorEdit
from cohortdesk.services.rows import SponsorRow
from cohortdesk.views.admin.form_support import Form, form_layout
from cohortdesk.views.admin.master_detail import MasterDetailPage
from cohortdesk.views.admin.table_models import SponsorTableModel
from cohortdesk.views.runner import Runner


class SponsorForm(Form):
    noun = "sponsor"

    def __init__(self, runner: Runner, db: Any, institution_id: int, parent: QWidget | None = None) -> None:
        super().__init__(runner, "sponsorForm", parent)
        self.db = db
        self.institution_id = institution_id
        self.row: SponsorRow | None = None

        self.heading = QLabel("New sponsor")
        self.heading.setObjectName("sponsorFormHeading")
        self.heading.setStyleSheet("font-size: 13pt; font-weight: 600;")
        self.company_name = QLineEdit()
        self.company_name.setPlaceholderText("Registered company name")
        self.contact_name = QLineEdit()
        self.contact_email = QLineEdit()
        self.contact_email.setPlaceholderText("name@company.co.za")
        self.contact_phone = QLineEdit()
        self.contact_phone.setPlaceholderText("011 555 0123")
        self.tax_number = QLineEdit()
        self.tax_number.setPlaceholderText("10 digits")

        box = QGroupBox("Sponsor")
        box.setObjectName("sponsorGroup")
        fields = form_layout()
        self.add_field(fields, "company_name", "&Company name", self.company_name, required=True)
        self.add_field(fields, "contact_name", "Contact &name", self.contact_name)
        self.add_field(fields, "contact_email", "Contact &e-mail", self.contact_email)
        self.add_field(fields, "contact_phone", "Contact &phone", self.contact_phone)
        self.add_field(
            fields, "tax_number", "&Tax number", self.tax_number, "SARS income tax or VAT reference number."
        )
        box.setLayout(fields)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 0, 0, 0)
        layout.addWidget(self.heading)
        layout.addWidget(self.summary)
        layout.addWidget(box)
        layout.addStretch(1)
        layout.addLayout(self.button_row())
        self.saved.connect(self.set_sponsor)

    def set_sponsor(self, row: SponsorRow | None) -> None:
        self.row = row
        self.heading.setText(row.company_name if row else "New sponsor")
        self.load(config.sponsor_edit_of(row) if row else SponsorEdit(company_name=""))
        self.save_button.setText("&Save" if row else "&Add sponsor")

    def value(self) -> SponsorEdit:
        return SponsorEdit(
            company_name=self.company_name.text(),
            contact_name=self.contact_name.text(),
            contact_email=self.contact_email.text(),
            contact_phone=self.contact_phone.text(),
            tax_number=self.tax_number.text(),
        )

    def show_value(self, value: SponsorEdit) -> None:
        self.company_name.setText(value.company_name)
        self.contact_name.setText(value.contact_name)
        self.contact_email.setText(value.contact_email)
        self.contact_phone.setText(value.contact_phone)
        self.tax_number.setText(value.tax_number)

    def check(self, value: SponsorEdit) -> list[FieldProblem]:
        return config.check_sponsor(value)

    def save_call(self, value: SponsorEdit) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        if self.row is None:
            return config.save_sponsor, (self.db, self.institution_id, None, value)
        return config.save_sponsor, (self.db, self.institution_id, self.row.id, value, self.row.row_version)


class SponsorsPage(MasterDetailPage):
    def __init__(self, runner: Runner, db: Any, institution_id: int, parent: QWidget | None = None) -> None:
        self.sponsor_form = SponsorForm(runner, db, institution_id)
        super().__init__(
            object_name="sponsorsPage",
            title="Sponsors",
            subtitle="Companies that fund your cohorts. A cohort's reports go to its sponsor's contact.",
            model=SponsorTableModel(),
            form=self.sponsor_form,
            new_label="&New sponsor",
            filter_hint="Filter sponsors",
            parent=parent,
        )
        self.view.setColumnHidden(SponsorTableModel.PHONE, True)
        self.view.setColumnHidden(SponsorTableModel.EMAIL, True)
        self.splitter.setSizes([400, 660])

    def show_record(self, row: SponsorRow) -> None:
        self.sponsor_form.set_sponsor(row)

    def show_new(self) -> None:
        self.sponsor_form.set_sponsor(None)
        self.sponsor_form.company_name.setFocus()
