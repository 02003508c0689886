"""Correlation and trace ids accepted from callers only when safe."""

from shared.observability import context


def test_a_safe_correlation_id_is_kept() -> None:
    assert context.accept_correlation_id("req-123_abc.def:9") == "req-123_abc.def:9"


def test_an_unsafe_or_huge_correlation_id_is_replaced() -> None:
    for hostile in ["a b", "x" * 500, "<script>", "line\nbreak", ""]:
        accepted = context.accept_correlation_id(hostile)
        assert accepted != hostile
        assert len(accepted) == 36


def test_traceparent_gives_the_trace_id() -> None:
    ctx = context.from_headers(
        {"TraceParent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
    )
    assert ctx.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert context.from_headers({"traceparent": "garbage"}).trace_id != "garbage"


def test_binding_is_scoped() -> None:
    ctx = context.TraceContext("corr-1", "a" * 32)
    with context.bound(ctx):
        assert context.current_correlation_id() == "corr-1"
        assert context.current().headers()["X-Correlation-ID"] == "corr-1"
    assert context.current_correlation_id() is None
