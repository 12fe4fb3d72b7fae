"""Standalone mode: one app behind JupyterHub without a Jupyter server in between.

``c.Spawner.cmd = ["jupyter-app-proxy", "--", "streamlit", "run", "app.py",
"--server.port={port}"]`` makes the Hub spawn this command instead of a single-user
Jupyter server. It reuses everything the extension has (:func:`..wiring.wire`: specs,
supervisor, proxy, handlers); only the host differs::

    options.py   the command line -> Options (pure)
    hubenv.py    the spawner's JUPYTERHUB_* environment -> HubEnvironment (pure)
    host.py      a tornado application: wire()'s routes, the Hub's OAuth as the
                 handlers' identity provider, the root redirect, metrics, SSL
    activity.py  proxied traffic -> the Hub's activity API, at most once per interval
    main.py      plan, listen, start the app, wait for a signal, stop; exit codes
"""
