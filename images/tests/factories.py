"""The one Image factory: a row only by default (lists, filters, permissions), or with
``stored=True`` a real small JPEG in default storage (jobs and workers read it)."""

from __future__ import annotations

import hashlib
import uuid

import factory
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from classifier_site.accounts.tests.factories import UserFactory
from classifier_site.testing.images import encode, gradient
from images.models import Image

STORED_SIZE = (48, 40)


def _stored_bytes(o) -> bytes:
    data = encode(gradient(*STORED_SIZE, seed=o.seed), "JPEG", quality=90)
    # A truncated JPEG when corrupt: right magic bytes, undecodable body.
    return data[:40] if o.corrupt else data


class ImageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Image

    class Params:
        seed = factory.Sequence(lambda n: n)
        corrupt = False
        data = factory.LazyAttribute(_stored_bytes)
        stored = factory.Trait(
            original_filename=factory.LazyAttribute(lambda o: f"photo-{o.seed}.jpg"),
            width=STORED_SIZE[0],
            height=STORED_SIZE[1],
            size_bytes=factory.LazyAttribute(lambda o: len(o.data)),
            sha256=factory.LazyAttribute(lambda o: hashlib.sha256(o.data).hexdigest()),
            file=factory.LazyAttribute(
                lambda o: default_storage.save(f"uploads/test/{o.id}.jpg", ContentFile(o.data))
            ),
            thumbnail="",
        )

    id = factory.LazyFunction(uuid.uuid4)
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
