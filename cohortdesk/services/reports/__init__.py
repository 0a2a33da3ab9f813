"""Reports to spreadsheets: five reports, each one call from the window, the command line or a test.

``export_report(db, request, destination)`` streams a report from the database into an XLSX or CSV
file. Where things are:

* ``request``: what an export asks for (``ExportRequest``), what it produced (``ExportResult``), the
  report, purpose and format names, age bands, and whether special personal information may go in;
* ``export``: running one export: one snapshot, the Report info sheet, the access log, the file;
* ``common``: what every report shares: context, progress and cancel, state labels, the columns and
  document types of special personal information (left out, not blanked, without the capability);
* one module per report, each with its columns and ``build(session, scope, ctx)``: ``roster`` (FR23),
  ``verification``, ``audit``, ``demographics`` (with small-cell suppression), ``progress``;
* ``queries``: the SQL behind them, scoped to the identity's institution and streamed;
* ``spreadsheet``: the XLSX and CSV writers (formats, widths, print setup, formula-injection guard) and
  ``atomic_output``, which lets a file appear only when it is complete.

The rules they follow (columns, special personal information, purposes, spreadsheet and print
conventions) are in ``docs/domain.md`` §5–7.
"""

from cohortdesk.services.reports.demographics import suppress_small_cells
from cohortdesk.services.reports.export import (
    INFO_SHEET,
    export_report,
    replica_lag,
    report_cohorts,
    report_officers,
)
from cohortdesk.services.reports.request import (
    DEFAULT_AGE_BANDS,
    FORMATS,
    PURPOSES,
    REPORTS,
    AgeBand,
    ExportRequest,
    ExportResult,
    age_band_labels,
    age_band_of,
    default_file_name,
    parse_age_bands,
    special_pi_allowed,
    validate_request,
)

__all__ = [
    "DEFAULT_AGE_BANDS",
    "FORMATS",
    "INFO_SHEET",
    "PURPOSES",
    "REPORTS",
    "AgeBand",
    "ExportRequest",
    "ExportResult",
    "age_band_labels",
    "age_band_of",
    "default_file_name",
    "export_report",
    "parse_age_bands",
    "replica_lag",
    "report_cohorts",
    "report_officers",
    "special_pi_allowed",
    "suppress_small_cells",
    "validate_request",
]
