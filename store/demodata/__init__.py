"""Pieces of the demo data set; `store.demo.seed` puts them together."""
