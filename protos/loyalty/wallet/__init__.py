"""The wallet contract."""
