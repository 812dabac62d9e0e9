from django import template

from jobs import selectors

register = template.Library()


@register.simple_tag(takes_context=True)
def image_predictions(context, image, limit: int = 10):
    """The acting user's finished predictions for ``image``, newest first."""
    user = context["request"].user
    return list(selectors.image_predictions(user=user, image=image)[:limit])
