"""The private-address guard: refused before any connection, at check time and connect time.

No traffic leaves loopback: names come from an injected resolver, and where a "public" site is
needed, a server on 127.0.0.1 stands in for it through ``allowed_networks``.
"""

from __future__ import annotations

import ipaddress

import pytest
from webserver import WebServer, resolver_for

from archiver.errors import BlockedPrivateAddress, FetchError
from archiver.net.fetch import FetchConfig, fetch, make_session
from archiver.net.guard import AddressGuard, check_host, is_public
from archiver.net.politeness import HostThrottle
from archiver.net.result import FetchResult


def no_dns(host: str, port: int) -> list[str]:
    raise AssertionError(f"literal {host} should not need a resolver")


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "0.0.0.0",
        "100.64.0.1",
        "224.0.0.1",
        "255.255.255.255",
        "240.0.0.1",
        "[::1]",
        "::1",
        "::",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "fe80::1",
        "fc00::1",
        "fec0::1",
        "ff02::1",
        "64:ff9b::7f00:1",
        "2002:7f00:1::1",
        "2001:db8::1",
        "2130706433",
        "0x7f.1",
        "017700000001",
        "127.1",
        "0x7f000001",
    ],
)
def test_private_literals_are_refused(host: str) -> None:
    with pytest.raises(BlockedPrivateAddress):
        check_host(host, 80, resolver=no_dns)


@pytest.mark.parametrize(
    "host",
    [
        "93.184.216.34",
        "2606:2800:220:1:248:1893:25c8:1946",
        "::ffff:93.184.216.34",
        "64:ff9b::5db8:d822",
    ],
)
def test_public_literals_pass(host: str) -> None:
    [address] = check_host(host, 80, resolver=no_dns)
    assert is_public(ipaddress.ip_address(address))


def test_name_resolving_to_loopback_is_refused() -> None:
    with pytest.raises(BlockedPrivateAddress) as caught:
        check_host("sneaky.example", 80, resolver=resolver_for({"sneaky.example": "127.0.0.1"}))
    assert caught.value.outcome == "blocked_private_address"


def test_one_private_address_among_public_ones_is_enough_to_refuse() -> None:
    resolver = resolver_for({"mixed.example": "93.184.216.34,10.1.2.3"})
    with pytest.raises(BlockedPrivateAddress):
        check_host("mixed.example", 443, resolver=resolver)


def test_public_name_passes_with_all_its_addresses() -> None:
    resolver = resolver_for({"public.example": "93.184.216.34,2606:2800:220:1::1"})
    assert check_host("public.example", 80, resolver=resolver) == [
        "93.184.216.34",
        "2606:2800:220:1::1",
    ]


def test_unresolvable_name_is_unreachable() -> None:
    with pytest.raises(FetchError) as caught:
        check_host("nowhere.example", 80, resolver=resolver_for({}))
    assert caught.value.outcome == "unreachable"
    assert not isinstance(caught.value, BlockedPrivateAddress)


def test_allowed_networks_exempt_an_address() -> None:
    assert check_host("127.0.0.1", 80, allowed_networks=["127.0.0.0/8"]) == ["127.0.0.1"]


def test_allow_private_skips_the_check_but_still_resolves() -> None:
    guard = AddressGuard(resolver=resolver_for({"lan.example": "10.0.0.7"}), allow_private=True)
    assert guard.resolve("lan.example", 80) == ["10.0.0.7"]


# --- through fetch() ---------------------------------------------------------------------


def run(url: str, **overrides: object) -> FetchResult:
    cfg = FetchConfig(delay=0, max_retries=0, timeout=5, **overrides)  # type: ignore[arg-type]
    return fetch(url, session=make_session(cfg), config=cfg, throttle=HostThrottle())


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "[::1]", "[::ffff:127.0.0.1]", "2130706433", "0x7f.1", "loopback.example"]
)
def test_fetch_refuses_private_hosts_before_connecting(web_server: WebServer, host: str) -> None:
    resolver = resolver_for({"loopback.example": "127.0.0.1"})
    result = run(web_server.url("/ok", host=host), resolver=resolver)
    assert result.outcome == "blocked_private_address"
    assert result.exchanges == []
    assert web_server.connections == 0


@pytest.mark.parametrize("host", ["127.0.0.1", "2130706433", "loopback.example"])
def test_allow_private_addresses_lets_them_through(web_server: WebServer, host: str) -> None:
    resolver = resolver_for({"loopback.example": "127.0.0.1"})
    result = run(web_server.url("/ok", host=host), resolver=resolver, allow_private_addresses=True)
    assert result.outcome == "ok"


PUBLIC = "127.0.0.1/32"  # the server standing in for a public site


def test_public_site_redirecting_to_a_private_one_is_refused(
    web_server: WebServer, second_web_server: WebServer
) -> None:
    resolver = resolver_for({"public.example": "127.0.0.1", "internal.example": "127.0.0.2"})
    target = second_web_server.url("/ok", host="internal.example")
    start = web_server.url(f"/redirect-to?url={target}", host="public.example")
    result = run(start, resolver=resolver, allowed_networks=(PUBLIC,))
    assert result.outcome == "blocked_private_address"
    assert result.redirects == [{"url": start, "status_code": 302, "location": target}]
    assert web_server.connections == 1
    assert second_web_server.connections == 0  # refused before connecting


def test_redirect_to_a_private_site_is_followed_when_allowed(
    web_server: WebServer, second_web_server: WebServer
) -> None:
    resolver = resolver_for({"public.example": "127.0.0.1", "internal.example": "127.0.0.2"})
    target = second_web_server.url("/ok", host="internal.example")
    start = web_server.url(f"/redirect-to?url={target}", host="public.example")
    result = run(start, resolver=resolver, allow_private_addresses=True)
    assert (result.outcome, result.final_url) == ("redirected", target)
    assert second_web_server.requests[0].host == "internal.example"  # Host header kept


def test_dns_rebinding_is_caught_at_connect_time(
    web_server: WebServer, second_web_server: WebServer
) -> None:
    """The name is public when checked and private when connected: the connection is refused."""
    answers = iter(["127.0.0.1", "127.0.0.2"])

    def rebinding(host: str, port: int) -> list[str]:
        return [next(answers)]

    url = second_web_server.url("/ok", host="rebind.example")
    result = run(url, resolver=rebinding, allowed_networks=(PUBLIC,))
    assert result.outcome == "blocked_private_address"
    assert second_web_server.connections == 0


def test_guarded_session_refuses_on_its_own(web_server: WebServer) -> None:
    """Code that uses make_session() without fetch() is still guarded."""
    session = make_session(FetchConfig())
    with pytest.raises(BlockedPrivateAddress):
        session.get(web_server.url("/ok"), timeout=2)
    assert web_server.connections == 0


def test_connection_goes_to_the_checked_address(
    web_server: WebServer, second_web_server: WebServer
) -> None:
    resolver = resolver_for({"site.example": "127.0.0.2"})
    url = second_web_server.url("/ok", host="site.example")
    result = run(url, resolver=resolver, allowed_networks=("127.0.0.2/32",))
    assert result.outcome == "ok"
    assert result.exchanges[0].ip_address == "127.0.0.2"
    assert second_web_server.requests[0].host == "site.example"
