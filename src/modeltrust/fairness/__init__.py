"""Fairness metrics in the AIF360 and Fairlearn conventions, computed from group counts."""
