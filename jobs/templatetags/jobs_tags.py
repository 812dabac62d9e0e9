import re

from django import template

from jobs import selectors

register = template.Library()


@register.simple_tag(takes_context=True)
def image_predictions(context, image, limit: int = 10):
    """The acting user's finished predictions for ``image``, newest first."""
    user = context["request"].user
    return list(selectors.image_predictions(user=user, image=image)[:limit])


# An absolute POSIX or Windows path of two or more segments (e.g. a weights file).
_PATH = re.compile(r"(?:[A-Za-z]:\\|/)(?:[\w.\-]+[/\\])+[\w.\-]*")


@register.filter
def hide_paths(text: str) -> str:
    """Worker errors can name files on the server; people see only where the problem is."""
    return _PATH.sub("[server file]", str(text or ""))
