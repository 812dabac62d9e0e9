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


@register.filter
def job_counts(job) -> str:
    """What happened to a job's images in words, e.g. "64 classified, 16 canceled".

    The same words as the job page's cards; unknown, failed and canceled are named only
    when there are some, so a cancel never reads as all done.
    """
    parts = [f"{job.classified} classified"]
    if job.unknown:
        parts.append(f"{job.unknown} unknown")
    if job.failed:
        parts.append(f"{job.failed} failed")
    if job.canceled:
        parts.append(f"{job.canceled} canceled")
    waiting = job.total - job.processed - job.canceled
    if waiting > 0 and not job.is_terminal:
        parts.append(f"{waiting} to go")
    return ", ".join(parts)
