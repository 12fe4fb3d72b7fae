"""proxy.websocket: close codes passed between the legs."""

import pytest

from jupyter_app_proxy.proxy.websocket import close_code_for_app, close_code_for_client


@pytest.mark.parametrize(
    ("code", "to_client", "to_app"),
    [
        (1000, 1000, 1000),
        (4001, 4001, 4001),
        (1011, 1011, 1011),
        (None, None, 1000),
        (1005, None, 1000),
        (1006, 1011, 1001),
        (1015, 1011, 1001),
        (999, 1011, 1001),
        (5000, 1011, 1001),
    ],
)
def test_close_codes_pass_through_unless_they_cannot_be_sent(code, to_client, to_app):
    """Application codes pass unchanged; 'no code' and abnormal endings are translated."""
    assert close_code_for_client(code) == to_client
    assert close_code_for_app(code) == to_app
