"""The plugin contract: declared parameters, the registry, the method and dataset base classes,
selectors and the conformance suite."""
