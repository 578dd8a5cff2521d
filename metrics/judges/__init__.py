"""Judges: evaluation networks that protocols need (segmenters, classifiers, feature extractors)."""
