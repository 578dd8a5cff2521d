"""The bottom layer: errors, images, atomic writes, cache, registries, rows, the task contract, devices.

Every package may import it; it imports only the standard library, numpy, torch and PIL, never the rest of the
project (``tests/test_layering.py`` enforces this).
"""
