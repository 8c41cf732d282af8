"""Typed sections of the YAML configuration; `store.config.load_settings` assembles them."""
