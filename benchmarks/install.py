"""Installs the tools the benchmark compares against, when they are missing.

- ``nginx`` and ``wrk`` from Debian (``apt-get install -y nginx-light wrk``);
- configurable-http-proxy 5.3.0 from npm into ``benchmarks/.tools/node_modules``;
- Jupyter Server Proxy 4.6.0 from PyPI into ``benchmarks/.tools/jsp-venv``, with the same
  jupyter_server, tornado and aiohttp versions as ``.venv`` so only the extension differs.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
TOOLS = HERE / ".tools"
CHP_VERSION = "5.3.0"
JSP_VERSION = "4.6.0"
PINNED_FROM_OURS = ("jupyter_server", "tornado", "aiohttp")
APT_PACKAGES = {
    "nginx": "nginx-light",
    "wrk": "wrk",
    "curl": "curl",
    "node": "nodejs",
    "npm": "npm",
}


@dataclass(frozen=True)
class Tools:
    nginx: str
    wrk: str
    curl: str
    node: str
    chp_script: Path
    jsp_python: Path


def _say(text: str) -> None:
    print(f"[install] {text}", file=sys.stderr, flush=True)


def ensure_apt() -> None:
    wanted = [package for name, package in APT_PACKAGES.items() if _which(name) is None]
    if not wanted:
        return
    _say(f"apt-get install -y {' '.join(wanted)}")
    env = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    if subprocess.run(["apt-get", "install", "-y", *wanted], env=env).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, check=True)
        subprocess.run(["apt-get", "install", "-y", *wanted], env=env, check=True)


def _which(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")


def ensure_chp() -> Path:
    package = TOOLS / "node_modules" / "configurable-http-proxy"
    script = package / "bin" / "configurable-http-proxy"
    if _package_version(package / "package.json") != CHP_VERSION:
        TOOLS.mkdir(parents=True, exist_ok=True)
        _say(f"npm install configurable-http-proxy@{CHP_VERSION} into {TOOLS}")
        npm = ["npm", "install", "--no-audit", "--no-fund", "--save-exact", "--prefix", str(TOOLS)]
        subprocess.run([*npm, f"configurable-http-proxy@{CHP_VERSION}"], check=True)
    return script


def _package_version(path: Path) -> str | None:
    try:
        return str(json.loads(path.read_text())["version"])
    except (OSError, ValueError, KeyError):
        return None


def ensure_jsp() -> Path:
    venv = TOOLS / "jsp-venv"
    python = venv / "bin" / "python"
    if _jsp_version(python) == JSP_VERSION:
        return python
    TOOLS.mkdir(parents=True, exist_ok=True)
    if not python.exists():
        _say(f"creating {venv}")
        subprocess.run([sys._base_executable, "-m", "venv", str(venv)], check=True)
    pins = [f"{name}=={metadata.version(name)}" for name in PINNED_FROM_OURS]
    _say(f"pip install jupyter-server-proxy=={JSP_VERSION} {' '.join(pins)}")
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", f"jupyter-server-proxy=={JSP_VERSION}", *pins],
        check=True,
    )
    return python


def _jsp_version(python: Path) -> str | None:
    if not python.exists():
        return None
    code = "from importlib.metadata import version; print(version('jupyter-server-proxy'))"
    result = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else None


def ensure_all() -> Tools:
    ensure_apt()
    chp = ensure_chp()
    jsp = ensure_jsp()
    found = {name: _which(name) for name in ("nginx", "wrk", "curl", "node")}
    for name, path in found.items():
        if path is None:
            raise RuntimeError(f"{name} not found after installation")
    return Tools(
        nginx=str(found["nginx"]),
        wrk=str(found["wrk"]),
        curl=str(found["curl"]),
        node=str(found["node"]),
        chp_script=chp,
        jsp_python=jsp,
    )
