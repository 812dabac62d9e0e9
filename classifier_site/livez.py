"""Shallow liveness for load balancers: /livez answers 200 while the process serves.

It runs before every other middleware: the load balancer calls it by the target's IP
over plain HTTP, so Host validation (DisallowedHost -> 400) and the HTTPS redirect
(301) must not see it. It checks no dependency: a database hiccup must not make the
load balancer drain every web task at once (the deep check is /health).
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

LIVEZ_PATH = "/livez"


class LivezMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info == LIVEZ_PATH and request.method in ("GET", "HEAD"):
            response = HttpResponse("ok\n", content_type="text/plain")
            response["Cache-Control"] = "no-store"
            return response
        return self.get_response(request)
