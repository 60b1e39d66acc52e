"""Evaluation with ir-measures, and leaderboards with significance tests."""

from irkit.evaluate.measures import DEFAULT_MEASURES, evaluate, parse_measures

__all__ = ["DEFAULT_MEASURES", "evaluate", "parse_measures"]
