"""Prometheus metrics: request count and latency per method, route template and status."""

from __future__ import annotations

from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest

from api.routing import contract_router

# Any other method (clients can send anything) is counted as OTHER, to bound label values.
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_LABELS = ("method", "route", "status")

REQUESTS = Counter("wujiang_http_requests", "HTTP requests handled.", _LABELS)
LATENCY = Histogram(
    "wujiang_http_request_duration_seconds", "Time to handle an HTTP request.", _LABELS
)

router = contract_router(tags=["operations"])


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    """Prometheus text exposition of the process's metrics."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


def observe(method: str, route: str, status: int, seconds: float) -> None:
    """Count one handled request (called by the request middleware, once per request)."""
    labels = (method if method in _KNOWN_METHODS else "OTHER", route, str(status))
    REQUESTS.labels(*labels).inc()
    LATENCY.labels(*labels).observe(seconds)
