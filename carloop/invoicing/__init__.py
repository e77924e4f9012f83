"""Sales documents of delivered cars, receipt and document PDFs, and the official e-invoice (fapiao)."""
