"""Generations and prompts: what the model said about a song, and the versions that said it.

Owns: ``PromptTemplate``, ``ModelVersion`` (the table: every generation points at one; the training
room owns how versions are trained, evaluated and promoted), ``GenerationGroup``, ``Generation``,
``GenerationHint`` (machine hints: the caption's claims checked against the song's analysis), the
generation pages and parsing of raw model output into caption, steps and answer.

May import: ``core``, ``songs``; ``modeling`` only inside service functions. Declares ``signals``:
``generation_finished`` (a generation succeeded; the rewards room scores it). Subscribes to the
songs room's ``analysis_finished`` and ``song_page_sections`` (``receivers``).
"""
