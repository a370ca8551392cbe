"""The shipped plugins, recipes and report templates, as package data.

``methods``, ``datasets``, ``recipes`` and ``reports`` here are links to the repository's top-level
folders of those names; a wheel holds copies of their files. ``bench.core.resources`` finds them
through this package, so an editable and a plain install look them up the same way.
"""
