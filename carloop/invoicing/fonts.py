"""The Chinese font of receipt and sales-document PDFs: embedded from a font file when there is one.

The font comes from ``CARLOOP_PDF_CJK_FONT`` (a TrueType .ttf/.ttc file), else from the system's
WenQuanYi Micro Hei (Debian's ``fonts-wqy-microhei``, which ``.ci/run`` installs), and is embedded
(subset) in every PDF, so any reader shows the Chinese. Without any usable file the PDFs fall back to
Adobe's STSong-Light, which ReportLab ships as metrics only: the PDF names the font and the reader must
supply a Song face (Chinese-capable readers do; others show blanks), and a warning says so once.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFError, TTFont

log = logging.getLogger("carloop.invoicing")

SYSTEM_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",  # Debian/Ubuntu fonts-wqy-microhei
    "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",  # Fedora/Arch
)
FALLBACK = "STSong-Light"


@dataclass(frozen=True, slots=True)
class CjkFont:
    """The registered font name PDFs set Chinese in, and the file embedded (empty: not embedded)."""

    name: str
    path: str = ""

    @property
    def embedded(self) -> bool:
        """Whether the PDFs carry the font's glyphs (else the reader must supply STSong-Light)."""
        return bool(self.path)


@cache
def cjk_font(configured: str = "") -> CjkFont:
    """The Chinese font for PDFs: ``configured`` if it loads, else the system's, else STSong-Light."""
    if configured and not Path(configured).is_file():
        log.warning("CARLOOP_PDF_CJK_FONT=%s is not a file; looking for a system CJK font", configured)
    for path in ([configured] if configured else []) + list(SYSTEM_FONTS):
        if not Path(path).is_file():
            continue
        name = "CJK-" + hashlib.sha256(path.encode()).hexdigest()[:10]
        try:
            pdfmetrics.registerFont(TTFont(name, path, subfontIndex=0))
        except (TTFError, OSError) as err:  # e.g. an OpenType/CFF file ReportLab cannot embed
            log.warning("CJK font %s cannot be embedded (%s); trying the next", path, err)
            continue
        return CjkFont(name=name, path=path)
    log.warning(
        "no CJK font file found (install fonts-wqy-microhei or set CARLOOP_PDF_CJK_FONT to a .ttf/.ttc):"
        " PDFs name %s and rely on the reader's Chinese font",
        FALLBACK,
    )
    pdfmetrics.registerFont(UnicodeCIDFont(FALLBACK))
    return CjkFont(name=FALLBACK)
