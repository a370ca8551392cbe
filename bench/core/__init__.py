"""Foundations every other package may use: canonical hashing and the YAML reader."""
