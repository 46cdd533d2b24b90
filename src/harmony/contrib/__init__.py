"""Integrations: the framework adapters :mod:`harmony.contrib.fastapi` and
:mod:`harmony.contrib.flask`, and :mod:`harmony.contrib.prometheus` (events as metrics).

Each imports its third-party library, and only when it is imported itself; nothing else
in harmony imports a web framework or prometheus-client. The adapters are thin layers
over :mod:`harmony.http` (error statuses and bodies, conditional GET), which hosts on
other frameworks use directly; the Prometheus sink is an ordinary event sink.
"""

__all__: list[str] = []
