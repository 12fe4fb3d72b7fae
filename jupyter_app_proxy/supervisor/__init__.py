"""Keep apps running: spawn, readiness, logs, restarts with backoff, clean stops.

Rule: nothing here imports tornado.web or :mod:`jupyter_app_proxy.proxy`; the
supervisor hands out :class:`~jupyter_app_proxy.endpoint.Endpoint` addresses
and knows nothing about HTTP requests beyond the readiness probe.
"""
