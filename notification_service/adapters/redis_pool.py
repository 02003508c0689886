"""The process's Redis client, with a pool that makes callers wait for a free connection.

A gevent web process runs a greenlet per socket and per request; hundreds of them may need
Redis at the same moment (token checks while many clients reconnect). redis-py's default pool
raises ``MaxConnectionsError`` past 100 connections; a blocking pool queues them instead, with
a bounded wait, and keeps the number of connections to Redis bounded too.
"""

from __future__ import annotations

from collections.abc import Iterator

from redis import BlockingConnectionPool, Redis


def blocking_redis_resource(
    url: str, max_connections: int, wait_seconds: float, timeout: float = 2.0
) -> Iterator[Redis]:
    """dependency-injector Resource: one client per process, closed at shutdown."""
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=wait_seconds,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        health_check_interval=30,
        decode_responses=True,
    )
    client = Redis(connection_pool=pool)
    try:
        yield client
    finally:
        client.close()
        pool.disconnect()
