"""Move bytes between a client and an app's endpoint (HTTP now, websockets next).

Rule: nothing here knows that processes exist; it is given an
:class:`~jupyter_app_proxy.endpoint.Endpoint` and a request, and streams.
"""
