"""Redis clients from a URL (``redis://``, ``rediss://`` or ``unix://``)."""

from __future__ import annotations

from collections.abc import Iterator

from redis import Redis


def create_redis(url: str, timeout: float = 2.0) -> Redis:
    return Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        health_check_interval=30,
        decode_responses=True,
    )


def database_channel(redis: Redis, name: str) -> str:
    """The pub/sub channel ``name`` of the client's database (``<name>:<db>``). Keys are per
    database but pub/sub spans the whole server: a channel named without its database is heard
    by the clients of every database, and reached by their publishes."""
    return f"{name}:{redis.connection_pool.connection_kwargs.get('db', 0)}"


def redis_resource(url: str) -> Iterator[Redis]:
    """dependency-injector Resource: one client per process, closed at shutdown."""
    client = create_redis(url)
    try:
        yield client
    finally:
        client.close()


def limiter_storage_uri(url: str) -> str:
    """flask-limiter (``limits``) spells unix sockets ``redis+unix://``."""
    if url.startswith("unix://"):
        return "redis+unix://" + url.removeprefix("unix://")
    return url
