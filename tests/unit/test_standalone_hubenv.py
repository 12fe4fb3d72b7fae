"""What a JupyterHub spawner's environment tells the standalone server (plain dicts)."""

from __future__ import annotations

import pytest

from jupyter_app_proxy.standalone.hubenv import (
    DEFAULT_ACTIVITY_INTERVAL,
    HubEnvironment,
    HubEnvironmentError,
    InternalSSL,
    read_hub_environment,
    under_hub,
)

SPAWNED = {
    "JUPYTERHUB_SERVICE_URL": "http://127.0.0.1:35711/user/alice/",
    "JUPYTERHUB_SERVICE_PREFIX": "/user/alice/",
    "JUPYTERHUB_API_TOKEN": "secret-token",
    "JUPYTERHUB_CLIENT_ID": "jupyterhub-user-alice",
    "JUPYTERHUB_API_URL": "http://127.0.0.1:8081/hub/api",
    "JUPYTERHUB_USER": "alice",
    "JUPYTERHUB_SERVER_NAME": "",
    "JUPYTERHUB_ACTIVITY_URL": "http://127.0.0.1:8081/hub/api/users/alice/activity",
}


def hub(**changes: str | None) -> HubEnvironment:
    """The environment of :data:`SPAWNED`, with ``changes`` (None removes a variable)."""
    env = {**SPAWNED, **changes}
    return read_hub_environment({k: v for k, v in env.items() if v is not None})


def test_a_spawned_servers_environment_is_read_whole():
    assert hub() == HubEnvironment(
        ip="127.0.0.1",
        port=35711,
        prefix="/user/alice/",
        api_token="secret-token",
        user="alice",
        server_name="",
        activity_url="http://127.0.0.1:8081/hub/api/users/alice/activity",
        activity_interval=DEFAULT_ACTIVITY_INTERVAL,
        ssl=None,
    )


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, False),
        ({"JUPYTERHUB_SERVICE_URL": ""}, False),
        ({"JUPYTERHUB_USER": "alice", "JUPYTERHUB_API_URL": "http://hub/"}, False),
        ({"JUPYTERHUB_SERVICE_URL": "http://127.0.0.1:1/"}, True),
        ({"JUPYTERHUB_API_TOKEN": "t"}, True),
        (SPAWNED, True),
    ],
)
def test_a_service_url_or_an_api_token_means_a_hub_started_us(env, expected):
    assert under_hub(env) is expected


@pytest.mark.parametrize(
    ("url", "ip", "port"),
    [
        ("http://10.0.0.5:8888/user/alice/", "10.0.0.5", 8888),
        ("http://127.0.0.1:35711", "127.0.0.1", 35711),
        ("http://singleuser.example:80/", "singleuser.example", 80),
        ("http://singleuser.example/user/alice/", "singleuser.example", 80),
        ("https://singleuser.example/user/alice/", "singleuser.example", 443),
        ("https://10.0.0.5:9443/", "10.0.0.5", 9443),
        ("http://[::1]:8888/", "::1", 8888),
        ("http://:8888/", "", 8888),
        ("http://0.0.0.0:8888/", "0.0.0.0", 8888),
    ],
)
def test_where_to_listen_comes_from_the_service_url(url, ip, port):
    """An empty host means every interface; without a port, the scheme's default."""
    env = hub(JUPYTERHUB_SERVICE_URL=url)
    assert (env.ip, env.port) == (ip, port)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://127.0.0.1:21/", "must be http(s)://, not 'ftp://127.0.0.1:21/'"),
        ("127.0.0.1:8888", "must be http(s)://"),
        ("http://127.0.0.1:99999/", "JUPYTERHUB_SERVICE_URL 'http://127.0.0.1:99999/':"),
        ("http://127.0.0.1:port/", "JUPYTERHUB_SERVICE_URL 'http://127.0.0.1:port/':"),
    ],
)
def test_a_malformed_service_url_is_refused_naming_it(url, message):
    with pytest.raises(HubEnvironmentError) as info:
        hub(JUPYTERHUB_SERVICE_URL=url)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("prefix", "normalised"),
    [
        (None, "/"),
        ("", "/"),
        ("/", "/"),
        ("//", "/"),
        ("/user/alice/", "/user/alice/"),
        ("/user/alice", "/user/alice/"),
        ("user/alice/", "/user/alice/"),
        ("user/alice", "/user/alice/"),
        ("/user/alice/lab-server/", "/user/alice/lab-server/"),
    ],
)
def test_the_prefix_always_starts_and_ends_with_a_slash(prefix, normalised):
    assert hub(JUPYTERHUB_SERVICE_PREFIX=prefix).prefix == normalised


@pytest.mark.parametrize(
    ("value", "seconds"), [(None, 300.0), ("", 300.0), ("60", 60.0), ("0.5", 0.5), ("1e3", 1000.0)]
)
def test_the_activity_interval_defaults_to_jupyterhubs_five_minutes(value, seconds):
    assert hub(JUPYTERHUB_ACTIVITY_INTERVAL=value).activity_interval == seconds


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("often", "must be a number of seconds, not 'often'"),
        ("5s", "must be a number of seconds, not '5s'"),
        ("0", "must be positive, not 0"),
        ("-30", "must be positive, not -30"),
    ],
)
def test_an_unusable_activity_interval_is_refused_naming_the_variable(value, message):
    with pytest.raises(HubEnvironmentError, match="JUPYTERHUB_ACTIVITY_INTERVAL") as info:
        hub(JUPYTERHUB_ACTIVITY_INTERVAL=value)
    assert message in str(info.value)


def test_the_optional_variables_default_to_empty():
    """No user, no server name, no activity URL (the Hub wants no reports): all fine."""
    env = hub(
        JUPYTERHUB_USER=None,
        JUPYTERHUB_SERVER_NAME=None,
        JUPYTERHUB_ACTIVITY_URL=None,
        JUPYTERHUB_SERVICE_PREFIX=None,
    )
    assert (env.user, env.server_name, env.activity_url, env.prefix) == ("", "", "", "/")


@pytest.mark.parametrize(
    "missing",
    [
        ["JUPYTERHUB_SERVICE_URL"],
        ["JUPYTERHUB_API_TOKEN"],
        ["JUPYTERHUB_CLIENT_ID"],
        ["JUPYTERHUB_API_URL"],
        ["JUPYTERHUB_CLIENT_ID", "JUPYTERHUB_API_URL"],
    ],
)
def test_missing_required_variables_are_named_in_the_error(missing):
    with pytest.raises(HubEnvironmentError) as info:
        hub(**dict.fromkeys(missing))
    assert str(info.value) == f"{', '.join(missing)} not set (JupyterHub sets them)"


def test_an_empty_required_variable_counts_as_missing():
    with pytest.raises(HubEnvironmentError, match=r"^JUPYTERHUB_API_TOKEN not set"):
        hub(JUPYTERHUB_API_TOKEN="")


def test_internal_ssl_serves_with_the_key_and_certificate_and_checks_clients_by_the_ca():
    env = hub(
        JUPYTERHUB_SSL_KEYFILE="/ssl/key.pem",
        JUPYTERHUB_SSL_CERTFILE="/ssl/cert.pem",
        JUPYTERHUB_SSL_CLIENT_CA="/ssl/ca.pem",
    )
    assert env.ssl == InternalSSL("/ssl/key.pem", "/ssl/cert.pem", "/ssl/ca.pem")


def test_the_client_ca_is_optional():
    env = hub(JUPYTERHUB_SSL_KEYFILE="/ssl/key.pem", JUPYTERHUB_SSL_CERTFILE="/ssl/cert.pem")
    assert env.ssl == InternalSSL("/ssl/key.pem", "/ssl/cert.pem", "")


def test_a_client_ca_alone_means_no_internal_ssl():
    assert hub(JUPYTERHUB_SSL_CLIENT_CA="/ssl/ca.pem").ssl is None


@pytest.mark.parametrize(
    "given", [{"JUPYTERHUB_SSL_KEYFILE": "/ssl/key.pem"}, {"JUPYTERHUB_SSL_CERTFILE": "/c.pem"}]
)
def test_the_ssl_key_and_certificate_must_come_together(given):
    with pytest.raises(HubEnvironmentError, match="must be set together"):
        hub(**given)
