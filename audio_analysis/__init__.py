"""Music analysis for the workbench: plain Python, no Django (a test enforces it).

``analyse_file(path, out_dir)`` decodes one audio file in a single streaming pass and returns the
small facts the database keeps (tempo, key, metre, loudness, sections…) and the names of the
artifacts it wrote (beats, loudness curve, waveform peaks, spectrogram). Bump ANALYSER_VERSION
whenever results would change, so old songs can be recomputed.

Measured by ``bash benchmarks/run.sh analysis`` on 200 held-out rendered pieces (parameters were
chosen on a disjoint tuning split), against plain librosa in the same run (analyser 1.1): key
MIREX-weighted 0.89 (librosa 0.73), tempo within 4 % 0.79 (0.64), allowing half/double 0.91 (0.76),
beat F 0.80 (0.61), metre family 0.75 where reported (73 % of pieces); ~130x real time on 2 cores
(librosa, which does less, ~163x); 451 MB peak RSS on a 35-minute stereo file (librosa 3 GB).
"""

from audio_analysis.pipeline import (
    ANALYSER_VERSION,
    AnalysisError,
    AnalysisResult,
    analyse_file,
    warm_up,
)

__all__ = ["ANALYSER_VERSION", "AnalysisError", "AnalysisResult", "analyse_file", "warm_up"]
