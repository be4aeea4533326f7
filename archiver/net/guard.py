"""Private-address guard: keep the fetcher away from loopback, LAN and cloud-metadata hosts.

A cited URL is untrusted input. Without a guard, ``http://169.254.169.254/`` or a public name
that resolves to ``10.0.0.5`` would make the archiver read (and publish) internal services.

Two layers use the same check:

* ``check_host()`` resolves a host and refuses it if *any* address is not globally routable.
  ``fetch()`` calls it before every hop, so a refusal happens before any connection and gets
  the outcome ``blocked_private_address`` rather than a misleading robots.txt failure.
* ``GuardedAdapter`` (a requests ``HTTPAdapter``) resolves, checks and connects to the checked
  addresses inside urllib3's ``_new_conn``. The name is resolved once and the socket goes to the
  address that was validated, so a DNS answer that changes between the check and the connect
  (DNS rebinding) cannot slip through. The Host header, TLS SNI and certificate check still use
  the hostname, because the connection object keeps it; only the socket address differs.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.poolmanager import PoolManager
from urllib3.util import connection as urllib3_connection

from archiver.errors import BlockedPrivateAddress, FetchError

LOGGER = logging.getLogger(__name__)

#: ``resolver(host, port) -> ["93.184.216.34", ...]``; injectable so tests need no DNS.
Resolver = Callable[[str, int], list[str]]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052 well-known prefix
_NUMERIC_V4 = re.compile(r"^[0-9a-fA-FxX.]+$")  # 2130706433, 0x7f.1, 017700000001, 127.1


def system_resolver(host: str, port: int) -> list[str]:
    """Resolve with ``getaddrinfo``, which also normalises decimal/octal/hex IPv4 literals."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return _unique(str(info[4][0]) for info in infos)


def _unique(items: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)


def _literal(host: str) -> list[str] | None:
    """The address of an IP-literal host (any legacy IPv4 spelling), or None for a name.

    Done without the resolver so an injected test resolver cannot hide ``0x7f.1``.
    """
    try:
        return [str(ipaddress.ip_address(host.split("%", 1)[0]))]
    except ValueError:
        pass
    if _NUMERIC_V4.match(host):
        try:
            return [socket.inet_ntoa(socket.inet_aton(host))]
        except OSError:
            return None
    return None


def _embedded_v4(addr: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address hidden in a mapped, 6to4 or NAT64 IPv6 address, if any."""
    if addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    if addr.sixtofour is not None:
        return addr.sixtofour
    if addr in _NAT64:
        return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    return None


def is_public(addr: IPAddress) -> bool:
    """True when ``addr`` is globally routable unicast (and so is any IPv4 inside it)."""
    if isinstance(addr, ipaddress.IPv6Address):
        embedded = _embedded_v4(addr)
        if embedded is not None:
            if not is_public(embedded):
                return False
            # ::ffff:0:0/96 and 64:ff9b::/96 count as "reserved" in ipaddress; judge the IPv4.
            if addr.ipv4_mapped is not None or addr in _NAT64:
                return True
        if addr.is_site_local:
            return False
    return not (
        not addr.is_global
        or addr.is_private
        or addr.is_loopback
        or addr.is_link_local
        or addr.is_multicast
        or addr.is_reserved
        or addr.is_unspecified
    )


@dataclass(frozen=True)
class AddressGuard:
    """How hosts are resolved and which addresses may be contacted."""

    resolver: Resolver | None = None
    allow_private: bool = False
    #: Networks treated as public anyway (an intranet mirror; tests that stand in for the web).
    allowed_networks: tuple[str, ...] = ()

    def resolve(self, host: str, port: int) -> list[str]:
        """Resolve ``host`` and, unless private addresses are allowed, check every address."""
        if self.allow_private:
            return _resolve(host, port, self.resolver)
        return check_host(
            host, port, resolver=self.resolver, allowed_networks=self.allowed_networks
        )


def _resolve(host: str, port: int, resolver: Resolver | None) -> list[str]:
    host = host.strip("[]").rstrip(".")
    literal = _literal(host)
    if literal is not None:
        return literal
    try:
        addresses = (resolver or system_resolver)(host, port)
    except (OSError, UnicodeError) as exc:  # socket.gaierror is an OSError
        raise FetchError(f"cannot resolve {host}: {exc}", url=host, outcome="unreachable") from exc
    if not addresses:
        raise FetchError(f"cannot resolve {host}: no addresses", url=host, outcome="unreachable")
    return _unique(addresses)


def check_host(
    host: str,
    port: int,
    *,
    resolver: Resolver | None = None,
    allowed_networks: Sequence[str] = (),
) -> list[str]:
    """Resolve ``host`` and refuse it if any of its addresses is not public.

    Any, not all: a name answering with one public and one private address could be steered to
    the private one on connect.

    Args:
        host: hostname or IP literal (``[::1]``, ``2130706433`` and ``0x7f.1`` included).
        port: the port, passed on to the resolver.
        resolver: ``resolver(host, port) -> [ip, ...]``; ``getaddrinfo`` when None.
        allowed_networks: CIDR blocks to treat as public although they are not.

    Returns:
        The addresses, in resolver order; connect only to these.

    Raises:
        BlockedPrivateAddress: some address is loopback, private, link-local, multicast, etc.
        FetchError: (outcome ``unreachable``) the name does not resolve.
    """
    addresses = _resolve(host, port, resolver)
    exempt: list[Network] = [ipaddress.ip_network(n, strict=False) for n in allowed_networks]
    for text in addresses:
        try:
            addr = ipaddress.ip_address(text.split("%", 1)[0])
        except ValueError as exc:
            raise FetchError(
                f"resolver gave a non-address for {host}: {text!r}", url=host, outcome="unreachable"
            ) from exc
        if any(addr.version == net.version and addr in net for net in exempt):
            continue
        if not is_public(addr):
            raise BlockedPrivateAddress(
                f"{host} resolves to non-public address {addr} (use --allow-private-addresses)",
                url=host,
            )
    return addresses


# --- connect-time enforcement -------------------------------------------------------------

_LISTENER = threading.local()


@contextmanager
def watching_sockets(callback: Callable[[socket.socket], None]) -> Iterator[None]:
    """Call ``callback`` with each socket this thread sends a request on.

    ``fetch()`` uses it to enforce a wall-clock limit: only shutting the socket down from
    another thread stops a server that drips one byte per second.
    """
    previous = getattr(_LISTENER, "callback", None)
    _LISTENER.callback = callback
    try:
        yield
    finally:
        _LISTENER.callback = previous


def _notify(sock: socket.socket | None) -> None:
    callback = getattr(_LISTENER, "callback", None)
    if callback is not None and sock is not None:
        callback(sock)


class GuardedHTTPConnection(HTTPConnection):
    """An urllib3 connection whose socket goes only to addresses the guard accepted."""

    guard: AddressGuard = AddressGuard()

    def _new_conn(self) -> socket.socket:
        addresses = self.guard.resolve(self._dns_host, self.port)
        error: OSError | None = None
        for address in addresses:
            try:
                sock = urllib3_connection.create_connection(
                    (address, self.port),
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except TimeoutError as exc:
                raise ConnectTimeoutError(
                    self, f"Connection to {self.host} ({address}) timed out."
                ) from exc
            except OSError as exc:
                error = exc
                continue
            LOGGER.debug("connected to %s as %s", self.host, address)
            _notify(sock)
            return sock
        raise NewConnectionError(self, f"Failed to establish a new connection: {error}")

    def getresponse(self) -> Any:  # noqa: D102 - same as urllib3's
        _notify(self.sock)
        return super().getresponse()


class GuardedHTTPSConnection(GuardedHTTPConnection, HTTPSConnection):
    """HTTPS flavour: ``_new_conn`` from the guard, TLS (SNI, cert hostname) from urllib3."""


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection
    guard: AddressGuard = AddressGuard()

    def _new_conn(self) -> Any:
        conn = cast(GuardedHTTPConnection, super()._new_conn())
        conn.guard = self.guard
        return conn


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection
    guard: AddressGuard = AddressGuard()

    def _new_conn(self) -> Any:
        conn = cast(GuardedHTTPSConnection, super()._new_conn())
        conn.guard = self.guard
        return conn


class _GuardedPoolManager(PoolManager):
    def __init__(self, guard: AddressGuard, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.guard = guard
        self.pool_classes_by_scheme = {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}

    def _new_pool(
        self,
        scheme: str,
        host: str,
        port: int,
        request_context: dict[str, Any] | None = None,
    ) -> HTTPConnectionPool:
        pool = super()._new_pool(scheme, host, port, request_context)
        cast(_GuardedHTTPPool, pool).guard = self.guard
        return pool


class GuardedAdapter(HTTPAdapter):
    """A requests adapter that enforces an ``AddressGuard`` on every new connection."""

    def __init__(self, guard: AddressGuard, **kwargs: Any) -> None:
        self.guard = guard  # set before super().__init__, which builds the pool manager
        super().__init__(**kwargs)

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        self._pool_connections = connections
        self._pool_maxsize = maxsize
        self._pool_block = block
        self.poolmanager = _GuardedPoolManager(
            self.guard, num_pools=connections, maxsize=maxsize, block=block, **pool_kwargs
        )

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        """Refuse proxies: the proxy, not the guard, would pick the address to connect to."""
        raise FetchError(f"proxies are not supported by the guarded fetcher: {proxy}")
