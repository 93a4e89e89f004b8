"""Training Music Flamingo on curated feedback: SFT, chain-of-thought warm-up, GRPO and DPO with TRL.

Plain Python (no Django): ``runner.run_training(job, hooks)`` is the one entry point; the web side
fills a ``TrainingJob`` from its rows and listens through ``TrainingHooks``.
"""
