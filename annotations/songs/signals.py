"""What the songs room announces to rooms above it (which subscribe; songs imports none of them)."""

from django.dispatch import Signal

#: An analysis succeeded. ``sender=SongAnalysis``, ``analysis=<SongAnalysis>``, ``song=<Song>``,
#: ``facts=<dict>``. Sent inside the transaction that records the result.
analysis_finished = Signal()

#: The song page is being built. ``sender=Song``, ``song=<Song>``, ``user=<User>``; each receiver
#: returns a dict of extra context (the generations room: the song's generations).
song_page_sections = Signal()
