"""Servers without a command: proxied when something listens, a clean 502 when not."""

from __future__ import annotations

from e2e.support import ECHO, JupyterServer, backend, tcp_listening


def test_prestarted_tcp_server_is_proxied(shared_server: JupyterServer) -> None:
    """Without a command, the server already listening on `port` is proxied."""
    port = shared_server.vars["PRESTARTED_PORT"]
    with backend([str(ECHO), "--port", str(port)], ready=lambda: tcp_listening(port)) as proc:
        info = shared_server.echo("prestarted/hello?x=1", method="POST", body=b"abc")
        assert info["pid"] == proc.pid
        assert (info["path"], info["body_length"]) == ("/hello?x=1", 3)


def test_nothing_listening_gives_a_readable_502(shared_server: JupyterServer) -> None:
    """Without a command and nothing on the port, the answer is a 502 page, no traceback."""
    r = shared_server.get("deadport/x", timeout=60)
    assert r.status == 502, r
    assert r.body.strip(), r
    assert "Traceback" not in r.text, r
    assert (r.header("Content-Type") or "").startswith("text/html"), r
