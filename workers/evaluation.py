"""Tasks that evaluate model versions on a snapshot's eval split (``gpu_inference`` queue)."""
