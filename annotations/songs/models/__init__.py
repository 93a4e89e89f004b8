"""The songs room's tables: vocabularies, songs, their audio files and analyses."""

from annotations.songs.models.analysis import SongAnalysis
from annotations.songs.models.songs import AudioFile, Song, audio_upload_path
from annotations.songs.models.vocabulary import Culture, Genre, Instrument, Language

__all__ = [
    "AudioFile",
    "Culture",
    "Genre",
    "Instrument",
    "Language",
    "Song",
    "SongAnalysis",
    "audio_upload_path",
]
