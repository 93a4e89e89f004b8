"""Tasks on the ``gpu_training`` queue: TRL training runs."""
