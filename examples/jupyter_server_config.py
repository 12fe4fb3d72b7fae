"""Demo configuration: open the printed URL, then /static-files/, /hello/ and /broken/."""

import os
import sys

here = os.path.dirname(os.path.abspath(__file__))

c.ServerProxy.servers = {  # noqa: F821 - `c` is provided by Jupyter's config loader
    # Python's own file server on a free TCP port, showing this folder.
    "static-files": {
        "command": [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "{port}"],
        "cwd": here,
        "launcher_entry": {"title": "Example files"},
    },
    # An aiohttp app on a private unix socket (no TCP port at all).
    "hello": {
        "command": [
            sys.executable,
            os.path.join(here, "hello_app.py"),
            "--unix-socket",
            "{unix_socket}",
        ],
        "unix_socket": True,
        "launcher_entry": {"title": "Hello app"},
    },
    # An app that fails at start: the error page shows its exit code and output.
    "broken": {
        "command": [sys.executable, "-c", "import sys; print('missing config file'); sys.exit(2)"],
    },
}
