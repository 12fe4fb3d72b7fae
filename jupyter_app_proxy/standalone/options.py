"""The ``jupyter-app-proxy`` command line, parsed into :class:`Options` (pure).

Two ways to name the one app served::

    jupyter-app-proxy [options] -- streamlit run app.py --server.port={port}
    jupyter-app-proxy [options] --config app_config.py --name myapp

The first builds a server entry from the command (with ``--timeout`` and friends as
its keys); the second picks ``myapp`` from ``c.ServerProxy.servers`` in a Jupyter-style
Python config file, or from the installed plugins' servers when there is no
``--config``. Either way the entry goes through the same parsing as inside Jupyter.
"""

from __future__ import annotations

import argparse
import os
import re
from dataclasses import dataclass
from typing import Any

PROG = "jupyter-app-proxy"
USAGE = f"""\
{PROG} [options] -- COMMAND [ARG ...]
       {PROG} [options] [--config FILE] --name NAME"""
DESCRIPTION = """\
Serve one web app behind JupyterHub without a Jupyter server: started at once,
supervised (restarted when it fails), and reached through the Hub's login. COMMAND and its
arguments may use {port}, {unix_socket} and {base_url}. Under JupyterHub, where to
listen and the URL prefix come from the Hub's environment."""


class UsageError(ValueError):
    """The command line cannot be used (printed with the usage)."""


@dataclass(frozen=True)
class Options:
    name: str
    #: the ``--`` form: the one server entry, in c.ServerProxy.servers' shape
    server: dict[str, Any] | None = None
    config_file: str | None = None
    ip: str | None = None
    port: int | None = None
    no_auth: bool = False
    log_level: str = "INFO"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, usage=USAGE, description=DESCRIPTION)
    p.add_argument("--name", help="the app's name (default: the command's own name)")
    p.add_argument("--config", metavar="FILE", help="a Python config file with c.ServerProxy")
    p.add_argument("--ip", help="address to listen on (default: the Hub's, else 127.0.0.1)")
    p.add_argument("--port", type=int, help="port to listen on (default: the Hub's, else 8888)")
    p.add_argument(
        "--no-auth",
        action="store_true",
        help="serve without any authentication: anyone who can reach the port uses the app",
    )
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    app = p.add_argument_group("the app (with --, as its server keys)")
    app.add_argument("--timeout", type=float, help="seconds the app may take to start")
    app.add_argument("--absolute-url", action="store_true", default=None)
    app.add_argument("--ready-check-path", help="ready once this path answers below 500")
    app.add_argument("--title", help="the name shown on the start page")
    app.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set a variable in the app's environment (repeatable)",
    )
    return p


def parse_options(argv: list[str]) -> Options:
    """``argv`` without the program name; raises :class:`UsageError`."""
    own, command = _split(argv)
    p = parser()
    try:
        args = p.parse_args(own)
    except SystemExit as e:  # argparse's own errors and --help
        raise UsageError(str(e.code)) from None
    app_keys = _app_keys(args)
    if command:
        if args.config:
            raise UsageError("give either a command after -- or --config, not both")
        name = args.name or default_name(command)
        server = {"command": command, **app_keys}
        return _options(args, name, server=server)
    if app_keys:
        keys = ", ".join("--" + k.replace("_", "-") for k in app_keys)
        raise UsageError(f"{keys} only apply to a command after --; set them in the config")
    if not args.name:
        raise UsageError("nothing to serve: give a command after --, or --name")
    return _options(args, args.name, config_file=args.config)


def _split(argv: list[str]) -> tuple[list[str], list[str]]:
    if "--" not in argv:
        return argv, []
    at = argv.index("--")
    command = argv[at + 1 :]
    if not command:
        raise UsageError("no command after --")
    return argv[:at], command


def _app_keys(args: argparse.Namespace) -> dict[str, Any]:
    keys: dict[str, Any] = {}
    for key in ("timeout", "absolute_url", "ready_check_path"):
        value = getattr(args, key)
        if value is not None:
            keys[key] = value
    if args.title:
        keys["launcher_entry"] = {"title": args.title}
    if args.env:
        keys["environment"] = dict(_assignment(item) for item in args.env)
    return keys


def _assignment(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise UsageError(f"--env wants KEY=VALUE, not {item!r}")
    return key, value


def _options(args: argparse.Namespace, name: str, **kwargs: Any) -> Options:
    if args.port is not None and not 0 < args.port < 65536:
        raise UsageError(f"--port must be 1-65535, not {args.port}")
    return Options(
        name=name,
        ip=args.ip,
        port=args.port,
        no_auth=args.no_auth,
        log_level=args.log_level,
        **kwargs,
    )


INTERPRETERS = re.compile(r"(python|pypy)[0-9.]*|node|deno|bun|bash|sh|Rscript|julia|ruby|perl")


def default_name(command: list[str]) -> str:
    """A URL-safe name from the command: ``streamlit`` for ``/opt/bin/streamlit run x.py``;
    an interpreter names its script or module (``dash_app`` for ``python dash_app.py``,
    ``http.server`` for ``python -m http.server``), but not its ``-c`` code."""
    word = os.path.basename(command[0])
    if INTERPRETERS.fullmatch(word):
        word = _interpreted(command[1:]) or word
    # a server name starts with a letter or a digit (spec.parse.check_name)
    return re.sub(r"[^A-Za-z0-9._-]+", "-", word).strip("-._") or "app"


def _interpreted(args: list[str]) -> str:
    """What an interpreter runs: the module after ``-m``, else the first script."""
    for i, arg in enumerate(args):
        if arg == "-c":
            return ""
        if arg == "-m":
            return args[i + 1] if i + 1 < len(args) else ""
        if not arg.startswith("-"):
            return os.path.splitext(os.path.basename(arg))[0]
    return ""
