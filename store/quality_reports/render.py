"""A report's four outputs from its content: the HTML document, the PDF printed from that same
document, the figures as CSV and every table as XLSX."""

from __future__ import annotations

from dataclasses import dataclass

from store.quality_reports import render_html, tables
from store.quality_reports.content import ReportContent
from store.quality_reports.exports import to_csv, to_xlsx
from store.quality_reports.pdf import to_pdf


@dataclass(frozen=True)
class Rendered:
    html: str
    pdf: bytes
    csv: bytes
    xlsx: bytes


def render(content: ReportContent) -> Rendered:
    document = render_html.document(content)
    return Rendered(
        html=document,
        pdf=to_pdf(document),
        csv=to_csv(tables.figures(content)),
        xlsx=to_xlsx(tables.every_table(content)),
    )
