"""Music analysis for the workbench: plain Python, no Django (a test enforces it).

``analyse_file(path, out_dir)`` decodes one audio file in a single streaming pass and returns the
small facts the database keeps (tempo, key, metre, loudness, sections…) and the names of the
artifacts it wrote (beats, loudness curve, waveform peaks, spectrogram). Bump ANALYSER_VERSION
whenever results would change, so old songs can be recomputed.
"""

from audio_analysis.pipeline import (
    ANALYSER_VERSION,
    AnalysisError,
    AnalysisResult,
    analyse_file,
)

__all__ = ["ANALYSER_VERSION", "AnalysisError", "AnalysisResult", "analyse_file"]
