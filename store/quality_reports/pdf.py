"""The report as PDF: WeasyPrint prints the very HTML document the console shows (report.css
has the page rules: A4, page numbers), so the PDF cannot say another figure than the HTML.

It lays the text out with Pango and embeds the fonts it used, subset: a Chinese font must be
installed (Debian's fonts-noto-cjk; scripts/setup.sh and deploy/Dockerfile.app install it)."""

from __future__ import annotations

import logging


def to_pdf(document: str) -> bytes:
    """The PDF of an HTML report document. A report links nothing, so the fetcher allows no
    protocol at all: nothing is ever read from a file or the network while printing."""
    from weasyprint import (
        HTML,
        URLFetcher,
    )  # on use: it loads Pango, which a gateway may never need

    for noisy in ("weasyprint", "fontTools"):  # layout and subsetting chatter, not our problems
        logging.getLogger(noisy).setLevel(logging.ERROR)
    pdf = HTML(string=document, url_fetcher=URLFetcher(allowed_protocols=())).write_pdf()
    return bytes(pdf)
