"""What vaelab writes about a run for people to look at: the standard figures after training
(:func:`write_run_figures`) and the self-contained HTML report (:func:`build_report`). An
application of the library: nothing below the command line imports it.
"""

from vaelab.report.figures import MusicPairs, music_pairs, write_run_figures
from vaelab.report.page import build_report

__all__ = ["MusicPairs", "build_report", "music_pairs", "write_run_figures"]
