"""Demo configuration (./scripts/demo runs JupyterLab with it): the launcher's "Example apps".

- "Example files": Python's file server, opened in a new browser tab.
- "Hello app": an aiohttp app on a unix socket that takes a few seconds to start, opened in a
  JupyterLab tab: its start page shows its output live, then the app.
- "Broken app": fails at start, so the start page shows the exit code, its output and
  "Try again"; its logs are in the Running panel and the REST API.
"""

import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
c = get_config()  # noqa: F821 - provided by Jupyter's config loader
CATEGORY = "Example apps"

c.ServerProxy.servers = {
    "static-files": {
        "command": [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "{port}"],
        "cwd": here,
        "launcher_entry": {"title": "Example files", "category": CATEGORY},
    },
    "hello": {
        "command": [
            sys.executable,
            os.path.join(here, "hello_app.py"),
            "--unix-socket",
            "{unix_socket}",
            "--start-delay",
            "3",
        ],
        "unix_socket": True,
        "timeout": 20,
        "new_browser_tab": False,
        "launcher_entry": {
            "title": "Hello app",
            "category": CATEGORY,
            "icon_path": os.path.join(here, "icons", "hello.svg"),
        },
    },
    "broken": {
        "command": [
            sys.executable,
            "-c",
            "import sys, time; print('reading settings.toml'); time.sleep(1);"
            " print('missing config file: settings.toml', file=sys.stderr); sys.exit(2)",
        ],
        "launcher_entry": {"title": "Broken app", "category": CATEGORY},  # the default icon
    },
}

# A quiet JupyterLab: no news, no update check, nothing fetched from outside.
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.handlers.announcements.NeverCheckForUpdate"
c.LabApp.extension_manager = "readonly"
