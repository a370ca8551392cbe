"""The ``bench`` command line: ``app`` mounts one module per command group."""
