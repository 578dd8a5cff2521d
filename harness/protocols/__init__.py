"""Evaluation protocols: how a trained model is scored on a task, producing result rows."""
