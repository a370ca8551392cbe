"""Runs: a run's configuration resolved and hashed, executed into one store record, with its
artifacts (the class prior) and provenance."""
