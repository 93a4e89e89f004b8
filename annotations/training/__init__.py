"""Training and model versions: runs on GPU workers, the versions they produce, evaluation, promotion.

Owns: ``TrainingRun``, ``TrainingMetric``, ``ModelEvaluation``; creating runs (``services.creation``),
executing them once with locks, leases and recovery (``services.execution``), launching the trainer
in-process, as a subprocess or under accelerate (``services.launchers``), registering and promoting
versions (``services.model_versions``), evaluating them (``services.evaluations``), and the training
and model-version pages.

May import: every room below it (``core`` … ``datasets``); ``modeling`` inside service functions.
"""
