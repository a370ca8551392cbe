"""Helpers shared by test modules (through the engine's public hooks)."""
