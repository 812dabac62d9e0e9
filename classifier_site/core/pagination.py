"""One way to answer an API list: the body the documents promise, paging in headers.

Where the API we replace documented a bare array (``GET /images``), the body stays a bare
array and the pages are announced the way GitHub's API does it: RFC 8288 ``Link``
headers (``rel="next"``, ``"prev"``, ``"first"``) plus ``X-Total-Count``. Where it
documented an object (``{"jobs": [...], "total": n}``), that object is the body, with our
paging fields beside the documented ones, and the same headers. Every list reads its
``limit``/``offset``/``page`` through ``classifier_site.core.params`` (bounded ints).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from rest_framework.request import Request
from rest_framework.response import Response

from classifier_site.core.params import MAX_OFFSET, int_param

LINK_RELS = ("first", "prev", "next")


@dataclass(frozen=True)
class Window:
    """Which slice of a list to answer: ``items[offset : offset + limit]``."""

    limit: int
    offset: int

    def slice(self, items: Any) -> Any:
        return items[self.offset : self.offset + self.limit]


def window_from_params(params: Mapping[str, Any], *, default_limit: int, max_limit: int) -> Window:
    """``limit`` and ``offset`` query parameters, bounded."""
    return Window(
        limit=int_param(params, "limit", default=default_limit, minimum=1, maximum=max_limit),
        offset=int_param(params, "offset", default=0, minimum=0, maximum=MAX_OFFSET),
    )


def window_from_page(params: Mapping[str, Any], *, default_limit: int, max_limit: int) -> Window:
    """``page`` (1-based) and ``limit`` query parameters, as seed 004's history documents."""
    limit = int_param(params, "limit", default=default_limit, minimum=1, maximum=max_limit)
    page = int_param(params, "page", default=1, minimum=1, maximum=MAX_OFFSET // max_limit)
    return Window(limit=limit, offset=(page - 1) * limit)


def offset_links(window: Window, total: int) -> dict[str, dict[str, str] | None]:
    """The query parameters of the first, previous and next pages (None: no such page)."""
    prev_offset = max(window.offset - window.limit, 0)
    return {
        "first": {"offset": "0", "limit": str(window.limit)},
        "prev": (
            {"offset": str(prev_offset), "limit": str(window.limit)} if window.offset > 0 else None
        ),
        "next": (
            {"offset": str(window.offset + window.limit), "limit": str(window.limit)}
            if window.offset + window.limit < total
            else None
        ),
    }


def page_links(window: Window, total: int) -> dict[str, dict[str, str] | None]:
    page = window.offset // window.limit + 1
    return {
        "first": {"page": "1", "limit": str(window.limit)},
        "prev": {"page": str(page - 1), "limit": str(window.limit)} if page > 1 else None,
        "next": (
            {"page": str(page + 1), "limit": str(window.limit)}
            if window.offset + window.limit < total
            else None
        ),
    }


def link_url(request: Request, changes: Mapping[str, str]) -> str:
    """This request's URL with some query parameters replaced (others kept, in order)."""
    params: dict[str, str] = {
        k: str(v) for k, v in request.query_params.items() if k not in ("after", "before")
    }
    params.update(changes)
    return request.build_absolute_uri(f"{request.path}?{urlencode(params)}")


def link_header(request: Request, links: Mapping[str, Mapping[str, str] | None]) -> str:
    parts = [
        f'<{link_url(request, changes)}>; rel="{rel}"'
        for rel in LINK_RELS
        if (changes := links.get(rel)) is not None
    ]
    return ", ".join(parts)


def list_response(
    request: Request,
    items: Iterable[Any],
    *,
    total: int | None,
    links: Mapping[str, Mapping[str, str] | None],
    envelope: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Response:
    """A list answer: a bare array (``envelope=None``) or ``{envelope: items, "total": n,
    **extra}``; paging in ``Link`` and the count in ``X-Total-Count`` either way."""
    if envelope is None:
        response = Response(list(items))
    else:
        body: dict[str, Any] = {envelope: list(items)}
        if total is not None:
            body["total"] = total
        body.update(extra or {})
        response = Response(body)
    header = link_header(request, links)
    if header:
        response["Link"] = header
    if total is not None:
        response["X-Total-Count"] = str(total)
    return response


# For the schema: the headers every list answers with.
LIST_HEADERS_DOC = {
    "Link": "RFC 8288 links to the first, previous and next pages (absent when none).",
    "X-Total-Count": "How many items the whole list has.",
}
