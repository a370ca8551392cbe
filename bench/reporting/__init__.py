"""Leaderboards like the CSL paper's: tables, reference rows, statistics and figures, as Markdown or HTML.

Entry point: ``build_report(store, datasets=None, fmt="md", out=None, **options)`` (``bench.reporting.build``).
Data files: ``reports/metrics.yaml`` (the metric schema behind every column), ``reports/references.yaml``
(published results); templates: ``reports/report.md.j2``, ``reports/site.html.j2``, ``reports/run.html.j2``.
"""
from __future__ import annotations

from bench.reporting.build import ReportOptions, assemble, build_report

__all__ = ["ReportOptions", "assemble", "build_report"]
