"""Operator tooling for the NLU model: data checks and evaluation reports."""
