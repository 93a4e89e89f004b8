"""Datasets: frozen snapshots of expert feedback as SFT / GRPO / DPO files.

Owns: ``DatasetSnapshot``, ``DatasetExample``; building, freezing and showing snapshots.

May import: ``core``, ``songs``, ``generations``, ``reviews``, ``rewards``.
"""
