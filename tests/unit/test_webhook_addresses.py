"""Where a webhook may point (no server-side request forgery), and its signature, with no
network: addresses given as literals need no resolving."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from adapters.webhooks import WebhookAddresses
from application.webhooks import sign
from domain.errors import InvalidValue

PUBLIC = WebhookAddresses(allow_private=False)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://127.8.9.10:8080/hook",
        "http://10.0.0.1/hook",
        "http://172.16.5.4/hook",
        "https://192.168.1.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/hook",
        "http://0.0.0.0/hook",
        "http://[::1]/hook",
        "http://[fe80::1]/hook",
        "http://[fd00::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://user:pass@127.0.0.1/hook",
    ],
)
def test_a_private_loopback_or_link_local_address_is_refused(url: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        PUBLIC.check(url)
    assert refused.value.field == "url"
    assert "OUTDIAL_WEBHOOK_ALLOW_PRIVATE" in refused.value.problem


@pytest.mark.parametrize(
    "url",
    [
        "ftp://8.8.8.8/x",
        "file:///etc/passwd",
        "8.8.8.8/hook",
        "http:///hook",
        "http://8.8.8.8:99999/",
    ],
)
def test_only_http_and_https_urls_with_a_host_and_port_are_taken(url: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        PUBLIC.check(url)
    assert refused.value.field == "url"


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1/hook",
        "http://8.8.8.8/a\x00b",
        "http://8.8.8.8/hook\n",
        "http://8.8.8.8/a b",
        "http://8.8.8.8/\x7f",
    ],
)
def test_a_url_that_does_not_parse_or_holds_a_space_or_control_character_is_refused(
    url: str,
) -> None:
    allowed = WebhookAddresses(allow_private=True)  # refused before any address is judged
    with pytest.raises(InvalidValue) as refused:
        allowed.check(url)
    assert refused.value.field == "url"


def test_a_public_address_is_taken_and_a_private_one_when_allowed() -> None:
    assert PUBLIC.resolve("https://8.8.8.8/hook") == ["8.8.8.8"]
    assert PUBLIC.resolve("http://[2001:4860:4860::8888]:8443/x") == ["2001:4860:4860::8888"]
    allowed = WebhookAddresses(allow_private=True)
    assert allowed.resolve("http://127.0.0.1:9/hook") == ["127.0.0.1"]


def test_the_signature_is_hmac_sha256_of_the_time_a_dot_and_the_body() -> None:
    body = b'{"events": []}'
    expected = hmac.new(b"whsec_x", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign("whsec_x", 1700000000, body) == f"t=1700000000,v1={expected}"
