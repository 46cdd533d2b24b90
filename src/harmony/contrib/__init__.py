"""Framework adapters: :mod:`harmony.contrib.fastapi` and :mod:`harmony.contrib.flask`.

Each adapter imports its framework, and only when it is imported itself; nothing else in
harmony imports a web framework. Both are thin layers over :mod:`harmony.http` (error
statuses and bodies, conditional GET), which hosts on other frameworks use directly.
"""

__all__: list[str] = []
