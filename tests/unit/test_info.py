"""handlers.info: the servers-info document and icon media types (pure parts)."""

import pytest

from jupyter_app_proxy.handlers.info import icon_content_type, servers_info
from jupyter_app_proxy.spec.parse import parse_servers


def test_servers_info_has_launcher_metadata_only_in_config_order():
    """Name, launcher entry (icon_url only with an icon) and new_browser_tab; nothing else."""
    specs, errors = parse_servers(
        {
            "b": {"command": ["b"], "environment": {"SECRET": "s"}, "new_browser_tab": False},
            "a": {"command": ["a"], "launcher_entry": {"icon_path": "/i/a.svg", "title": "A"}},
        }
    )
    assert errors == []
    info = servers_info(specs, "/user/x/")
    assert info == {
        "server_processes": [
            {
                "name": "b",
                "launcher_entry": {
                    "enabled": True,
                    "title": "b",
                    "path_info": "b/",
                    "category": "Notebook",
                },
                "new_browser_tab": False,
            },
            {
                "name": "a",
                "launcher_entry": {
                    "enabled": True,
                    "title": "A",
                    "path_info": "a/",
                    "category": "Notebook",
                    "icon_url": "/user/x/server-proxy/icon/a",
                },
                "new_browser_tab": True,
            },
        ]
    }


@pytest.mark.parametrize(
    ("path", "media_type"),
    [
        ("/i/a.svg", "image/svg+xml"),
        ("/i/a.PNG", "image/png"),
        ("/i/a.ico", "image/vnd.microsoft.icon"),
        ("/i/a.svgz", "application/octet-stream"),
        ("/i/a", "application/octet-stream"),
    ],
)
def test_icon_media_type_comes_from_the_file_name(path, media_type):
    assert icon_content_type(path) == media_type
