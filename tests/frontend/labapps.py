"""The apps the frontend tests configure, their icons, and ``jupyter lab`` as a test server."""

from __future__ import annotations

import base64
import json
import os
import shutil
import struct
import zlib
from pathlib import Path

from playwright.sync_api import Locator, Page

from e2e.support import PY, JupyterServer

#: The SVG icon's fill, to find it in the page.
SVG_FILL = "#1e88e5"
SVG_ICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
    f'<circle cx="8" cy="8" r="7" fill="{SVG_FILL}"/></svg>'
)
#: The PNG icon's one colour (RGB).
PNG_RGB = (220, 20, 60)

#: The configured apps (name -> what the test expects of it).
APPS_CONFIG = """
def site(name):
    return [PY, "-m", "http.server", "{port}", "--bind", "127.0.0.1",
            "--directory", f"{SITES}/{name}"]

c.ServerProxy.servers = {
    "svgapp": {
        "command": site("svgapp"),
        "launcher_entry": {"title": "SVG App", "category": "Custom Apps",
                           "icon_path": f"{SITES}/icon.svg"},
    },
    "pngapp": {
        "command": site("pngapp"),
        "new_browser_tab": False,
        "launcher_entry": {"title": "PNG App", "icon_path": f"{SITES}/icon.png"},
    },
    "plainapp": {
        "command": site("plainapp"),
        "new_browser_tab": False,
        "launcher_entry": {"title": "Plain App", "category": "Custom Apps"},
    },
    "hiddenapp": {
        "command": site("hiddenapp"),
        "launcher_entry": {"enabled": False, "title": "Hidden App"},
    },
    # Two printers (LOG_APP), no cards: the Running panel's and the log view's tests.
    "runapp": {
        "command": [PY, f"{SITES}/logapp.py", "{port}"],
        "new_browser_tab": False,
        "launcher_entry": {"enabled": False, "title": "Run App"},
    },
    "logapp": {
        "command": [PY, f"{SITES}/logapp.py", "{port}"],
        "new_browser_tab": False,
        "launcher_entry": {"enabled": False, "title": "Log App"},
    },
}
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.handlers.announcements.NeverCheckForUpdate"
c.LabApp.extension_manager = "readonly"
# window.jupyterapp on Notebook's pages: the test makes it re-read the kernelspecs
c.JupyterNotebookApp.expose_app_in_browser = True
"""
APP_NAMES = ("svgapp", "pngapp", "plainapp", "hiddenapp")

#: What LOG_APP prints when it starts, on stdout and on stderr.
HELLO_STDOUT = "logapp says hello on stdout"
HELLO_STDERR = "logapp warns on stderr"
#: An app that prints a line on each stream at start, and ``GET /print?text=T&n=N`` prints
#: ``T 0`` .. ``T N-1`` on stdout (``stream=stderr``: on stderr).
LOG_APP = f"""
import http.server, sys, urllib.parse

print({HELLO_STDOUT!r}, flush=True)
print({HELLO_STDERR!r}, file=sys.stderr, flush=True)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        if url.path == "/print":
            out = sys.stderr if query.get("stream") == "stderr" else sys.stdout
            for i in range(int(query.get("n", "1"))):
                print(f"{{query.get('text', 'line')}} {{i}}", file=out, flush=True)
        body = b"<!doctype html><title>logapp</title><h1 id=app>Hello from logapp</h1>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A one-colour RGB PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def write_sites(sites: Path) -> None:
    """Each app's folder with an ``index.html`` naming it, and the two icons."""
    for name in APP_NAMES:
        (sites / name).mkdir(parents=True)
        (sites / name / "index.html").write_text(
            f'<!doctype html><title>{name}</title><h1 id="app">Hello from {name}</h1>'
        )
    (sites / "logapp.py").write_text(LOG_APP)
    (sites / "icon.svg").write_text(SVG_ICON)
    (sites / "icon.png").write_bytes(png(16, 16, PNG_RGB))


class LabServer(JupyterServer):
    """A ``jupyter lab`` (JupyterLab and Notebook 7 pages) instead of a bare server."""

    def command(self) -> list[str]:
        base = super().command()
        assert base[1:3] == ["-m", "jupyter_server"], base
        settings = self.workdir / "lab-settings"
        notification = settings / "@jupyterlab" / "apputils-extension"
        notification.mkdir(parents=True, exist_ok=True)
        (notification / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False})
        )
        return [
            PY,
            "-m",
            "jupyterlab",
            *base[3:],
            f"--LabApp.user_settings_dir={settings}",
            f"--LabApp.workspaces_dir={self.workdir / 'lab-workspaces'}",
        ]


def save_screenshot(target: Page | Locator, tmp_path: Path, name: str) -> None:
    """A screenshot in the test's ``tmp_path``, and in ``$JAP_SCREENSHOTS`` when that is set
    (a folder, for the docs)."""
    target.screenshot(path=tmp_path / name)
    folder = os.environ.get("JAP_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(tmp_path / name, Path(folder) / name)


def data_url_of_png() -> str:
    """How the PNG icon appears inside its SVG wrapper (a base64 data: URL)."""
    return "data:image/png;base64," + base64.b64encode(png(16, 16, PNG_RGB)).decode()
