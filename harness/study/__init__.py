"""Human studies for a run: simulated tables, real-study kits and the import of real ratings.

``study simulate``, ``study export`` and ``study import``; the statistics live in ``metrics.human_study``.
"""
