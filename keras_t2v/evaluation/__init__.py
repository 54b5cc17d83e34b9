"""Measuring every stage: learned evaluators, rule-based motion, distribution metrics (shared/specs/evaluation.md)."""
