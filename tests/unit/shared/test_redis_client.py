"""Redis clients from URLs: the pub/sub channel of the client's database."""

from __future__ import annotations

import pytest
from redis import BlockingConnectionPool, Redis

from shared.redis_client import create_redis, database_channel


@pytest.mark.parametrize(
    ("url", "channel"),
    [
        ("redis://127.0.0.1:6379/3", "notifications:live:3"),
        ("redis://127.0.0.1:6379", "notifications:live:0"),
        ("unix:///tmp/redis.sock?db=5", "notifications:live:5"),
    ],
)
def test_a_channel_is_named_with_the_clients_database(url: str, channel: str) -> None:
    # Pub/sub spans every database of a server: the name keeps the databases apart.
    assert database_channel(create_redis(url), "notifications:live") == channel
    pooled = Redis(connection_pool=BlockingConnectionPool.from_url(url))
    assert database_channel(pooled, "notifications:live") == channel
