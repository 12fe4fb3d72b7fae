"""Real plugin packages and Jupyter Server Proxy, kept out of .venv (scripts/install).

Every Jupyter Server the suite starts discovers the entry points of its environment, so
the plugins live in folders of their own, put on ``PYTHONPATH`` only for the servers of
these tests (:func:`plugin_env`):

* :data:`PLUGINS`: the eleven plugins, ``pip install --no-deps --target``;
* :data:`UPSTREAM`: jupyter-server-proxy 4.6.0 and simpervisor (its other dependencies are
  in .venv), for the coexistence tests only;
* :data:`APP_BIN`: the commands ``panel``, ``marimo`` and ``tensorboard`` of a venv of their
  own (only those: not its ``python``), for ``PATH``.

:func:`fake_plugin` writes a plugin package of the test's own (a module and its
``.dist-info``) into a folder, for what no real plugin does.
"""

from __future__ import annotations

import html
import os
import re
import textwrap
from collections.abc import Iterable
from pathlib import Path

from e2e.support import TESTS, JupyterServer, Response

TOOLS = TESTS / "plugins" / ".tools"
PLUGINS = TOOLS / "plugins"
UPSTREAM = TOOLS / "upstream"
APP_BIN = TOOLS / "bin"

#: The startup line listing what we serve.
SERVING = re.compile(r"jupyter-app-proxy: serving \d+ app\(s\): (.*)$", re.M)


def require_tools() -> None:
    """Fail (not skip) when scripts/install has not put the plugins and apps in place."""
    missing = [p for p in (PLUGINS, UPSTREAM, APP_BIN / "panel") if not p.exists()]
    assert not missing, f"missing {missing}: run scripts/install"


def plugin_env(
    home: Path, *, sites: Iterable[Path] = (PLUGINS,), path: Iterable[Path] = (APP_BIN,)
) -> dict[str, str]:
    """Jupyter's environment: ``sites`` on PYTHONPATH, ``path`` before PATH, its own HOME."""
    home.mkdir(parents=True, exist_ok=True)
    return {
        "PYTHONPATH": os.pathsep.join(map(str, sites)),
        "PATH": os.pathsep.join([*map(str, path), os.environ["PATH"]]),
        "HOME": str(home),  # plugins read ~/.vnc, ~/.jupytermarimoproxyrc; tensorboard ~/logs
    }


def fake_plugin(site: Path, package: str, module_source: str, entry_points: str) -> None:
    """A plugin package in ``site``: ``<module>.py`` and its dist-info with ``entry_points``."""
    module = package.replace("-", "_")
    dist = site / f"{module}-1.0.dist-info"
    dist.mkdir(parents=True)
    (site / f"{module}.py").write_text(textwrap.dedent(module_source))
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(textwrap.dedent(entry_points))


def served_names(server: JupyterServer) -> set[str]:
    """The app names in our startup line ``serving N app(s): a, b``."""
    [listing] = SERVING.findall(server.log())
    return set(listing.split(", ")) - {"none"}


def log_lines(server: JupyterServer, *fragments: str) -> list[str]:
    """The lines of the server's log that contain every fragment."""
    return [line for line in server.log().splitlines() if all(f in line for f in fragments)]


def page_text(response: Response) -> str:
    """An error page's text as the user reads it (quotes are escaped in the HTML)."""
    return html.unescape(response.text)
