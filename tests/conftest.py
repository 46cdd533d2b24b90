"""harmony's own suite uses harmony's pytest plugin, the same fixtures users get.

The plugin is registered by the ``pytest11`` entry point of the installed package, so
nothing needs to load it here.
"""
