from __future__ import annotations

import hashlib

import factory

from classifier_site.accounts.tests.factories import UserFactory
from images.models import Image


class ImageFactory(factory.django.DjangoModelFactory):
    """A row only (no stored file): for list, filter and permission tests."""

    class Meta:
        model = Image

    owner = factory.SubFactory(UserFactory)
    original_filename = factory.Sequence(lambda n: f"photo-{n:04d}.jpg")
    file = factory.LazyAttribute(lambda o: f"uploads/{o.owner.pk}/2025/01/01/{o.sha256[:32]}.jpg")
    thumbnail = factory.LazyAttribute(
        lambda o: f"thumbnails/{o.owner.pk}/2025/01/01/{o.sha256[:32]}.webp"
    )
    format = "JPEG"
    mime_type = "image/jpeg"
    size_bytes = factory.Sequence(lambda n: 1000 + n)
    width = 640
    height = 480
    sha256 = factory.Sequence(lambda n: hashlib.sha256(str(n).encode()).hexdigest())
