"""Labels: the {1, -1, 0} encoding, the run's label store, partial-annotation protocols and manifests."""
