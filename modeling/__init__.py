"""Music Flamingo on its own: loading, prompting, generation, parsing, rewards and training.

Plain Python with no Django import (tests/test_modeling_boundary.py enforces it), so this package can
be copied to a GPU box and run there alone. Heavy libraries (torch, transformers, trl) are imported
inside the functions that need them, so importing ``modeling`` stays cheap and CUDA-free.
"""
