"""Red-team engine: attacks, judges, campaigns and attack-success statistics."""
