"""Per-item facts the figures are computed from, measured once from the stores' events and kept
up to date by `refresh` (store/quality/facts/refresh.py)."""
