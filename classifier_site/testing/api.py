"""Helpers for tests that read API answers as a client would."""

from __future__ import annotations

import re

_LINK = re.compile(r'<([^>]*)>;\s*rel="([^"]+)"')


def link_rels(response) -> dict[str, str]:
    """The RFC 8288 ``Link`` header as {rel: url} (empty when there is none)."""
    header = response.headers.get("Link", "") if hasattr(response, "headers") else ""
    return {rel: url for url, rel in _LINK.findall(header)}
