from tests.synthetic import assessment, synthetic  # noqa: F401  (fixtures)
