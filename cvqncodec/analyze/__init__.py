"""The channel study of Sec. 2 / Fig. 1 of the paper, as ``cvq analyze`` (docs/ANALYZE.md).

Every channel of the quantized latent Z-hat is zeroed in turn and the loss of the decoded image is
measured; the context models give each channel's rate. :mod:`.channels` holds the numbers (also the
reconstruction-error importance of Eq. 6), :mod:`.report` the report folder, :mod:`.figures` (influence)
and :mod:`.latent` (channels, with :mod:`.original`'s thumbnail) its figures.
"""

from __future__ import annotations

from .channels import InfluenceSummary, analyze_images, channel_influence
from .figures import FORMATS, check_matplotlib
from .report import CSV_COLUMNS, FILES, check_folder, model_meta, report_files, summary_text, write_report

__all__ = [
    "CSV_COLUMNS",
    "FILES",
    "FORMATS",
    "InfluenceSummary",
    "analyze_images",
    "channel_influence",
    "check_folder",
    "check_matplotlib",
    "model_meta",
    "report_files",
    "summary_text",
    "write_report",
]
