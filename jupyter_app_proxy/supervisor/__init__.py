"""Keep apps running: spawn, readiness, logs, restarts with backoff, clean stops.

Rule: nothing here imports tornado.web or :mod:`jupyter_app_proxy.proxy`; the
supervisor hands out :class:`~jupyter_app_proxy.endpoint.Endpoint` addresses
and knows nothing about HTTP requests beyond the readiness probe.

Pure parts: ``state`` (transition table), ``backoff``, ``logbuffer`` (the
numbered ring of output lines), ``status`` (the frozen ``AppStatus``). I/O:
``process`` (one app; the one place that decides starts and stops, with its
concurrency rules), ``registry`` (name -> app, listeners, status of pre-started
apps), ``launcher``, ``readiness``, ``watchdog``.
"""
