"""harmony's own suite uses harmony's pytest plugin (the same fixtures users get)."""

pytest_plugins = ["harmony.testing.pytest_plugin"]
