"""Where an app listens: a TCP port on loopback or a unix socket path (pure)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Endpoint:
    """The address the proxy connects to; ``unix_socket`` wins over ``port``."""

    host: str = "127.0.0.1"
    port: int = 0
    unix_socket: str = ""

    @property
    def origin(self) -> str:
        """``scheme://host[:port]`` used to build upstream URLs."""
        if self.unix_socket:
            return "http://localhost"
        return f"http://{self.host}:{self.port}"

    def template_values(self, base_url: str) -> dict[str, object]:
        """What ``{port}``, ``{unix_socket}`` and ``{base_url}`` mean for this endpoint.

        ``port`` is 0 on a unix socket and ``unix_socket`` is "" on a port, as the spec says.
        """
        return {
            "port": 0 if self.unix_socket else self.port,
            "unix_socket": self.unix_socket,
            "base_url": base_url,
        }

    def describe(self) -> str:
        return f"unix socket {self.unix_socket}" if self.unix_socket else f"{self.host}:{self.port}"
