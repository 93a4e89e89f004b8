"""Songs and their analysis: vocabularies, songs, audio files, imports, uploads, machine analysis.

Owns: ``Genre``/``Culture``/``Language``/``Instrument``, ``Song``, ``AudioFile``, ``SongAnalysis``;
importing songs (browser upload and ``manage.py import_songs``), storage of audio and analysis
artifacts, the song list and song page.

May import: ``core``, ``audio_analysis`` (inside functions). Declares ``signals``: ``analysis_finished``
(an analysis succeeded; the generations room refreshes its hints) and ``song_page_sections`` (higher
rooms add what they show on the song page).
"""
