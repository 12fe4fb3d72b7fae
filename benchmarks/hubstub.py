"""A stand-in for JupyterHub's API, for the ``standalone`` benchmark target only.

``jupyter-app-proxy`` in standalone mode asks the Hub who owns a token once, then keeps
the answer (``HubAuth.cache_max_age``, 300 s), so the Hub is not on the measured path;
a real Hub would only slow the start. Answers ``GET /hub/api/user`` for one token with
one user allowed on the server, 403 for any other token; ``GET /hub/api/`` with the
version. Run as ``python hubstub.py --port P --token T --user U``.
"""

from __future__ import annotations

import argparse

from aiohttp import web

VERSION = "6.1.1"


def make_app(token: str, user: str) -> web.Application:
    async def whoami(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"token {token}":
            return web.json_response({"status": 403, "message": "no such token"}, status=403)
        model = {
            "kind": "user",
            "name": user,
            "admin": False,
            "groups": [],
            "scopes": [f"access:servers!user={user}"],
            "session_id": None,
        }
        return web.json_response(model)

    async def root(request: web.Request) -> web.Response:
        return web.json_response({"version": VERSION}, headers={"X-JupyterHub-Version": VERSION})

    app = web.Application()
    app.router.add_get("/hub/api/user", whoami)
    app.router.add_get("/hub/api/", root)
    return app


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--user", default="bench")
    args = p.parse_args()
    web.run_app(make_app(args.token, args.user), host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
