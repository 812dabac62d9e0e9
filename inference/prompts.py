"""Prompt-template sets for zero-shot labels (names and cache keys; no torch here).

CLIP_TEMPLATES is either a built-in set name or custom templates separated by "|", each
with "{}" where the label goes, e.g. "a photo of a {}.|a drawing of a {}.".
"""

from __future__ import annotations

import hashlib

# Built-in sets come from open_clip's zero_shot_metadata (the 80 OpenAI ImageNet templates,
# its 7-template "simple" subset) plus a single plain prompt.
BUILTIN_TEMPLATE_SETS = ("openai_imagenet", "simple_imagenet", "single")


class TemplateError(ValueError):
    pass


def templates_custom(value: str) -> list[str]:
    templates = [t.strip() for t in value.split("|") if t.strip()]
    if not templates:
        raise TemplateError("CLIP_TEMPLATES is empty: use a set name or templates with '{}'.")
    for template in templates:
        if template.count("{}") != 1:
            raise TemplateError(
                f"Template {template!r} in CLIP_TEMPLATES must contain '{{}}' exactly once, "
                f"or use one of {', '.join(BUILTIN_TEMPLATE_SETS)}."
            )
    return templates


def template_set_key(value: str) -> str:
    """The text-embedding cache key of a template setting (≤ 100 chars)."""
    value = value.strip()
    if value in BUILTIN_TEMPLATE_SETS:
        return value
    joined = "|".join(templates_custom(value))
    return "custom-" + hashlib.sha256(joined.encode()).hexdigest()[:16]
