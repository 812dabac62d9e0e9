"""Test data: real small JPEGs in default storage, Image rows created directly."""

from __future__ import annotations

import hashlib
import io
import uuid

import factory
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image as PILImage

from classifier_site.accounts.tests.factories import UserFactory
from images.models import Image


def jpeg_bytes(seed: int, size: tuple[int, int] = (48, 40)) -> bytes:
    img = PILImage.new("RGB", size)
    w, h = size
    img.putdata(
        [
            ((x * 5 + seed * 37) % 256, (y * 7 + seed * 11) % 256, ((x + y) * 3 + seed * 5) % 256)
            for y in range(h)
            for x in range(w)
        ]
    )
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90)
    return out.getvalue()


class ImageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Image

    class Params:
        seed = factory.Sequence(lambda n: n)
        corrupt = False
        # A truncated JPEG when corrupt: right magic bytes, undecodable body.
        data = factory.LazyAttribute(
            lambda o: jpeg_bytes(o.seed)[:40] if o.corrupt else jpeg_bytes(o.seed)
        )

    id = factory.LazyFunction(uuid.uuid4)
    owner = factory.SubFactory(UserFactory)
    original_filename = factory.LazyAttribute(lambda o: f"photo-{o.seed}.jpg")
    format = "JPEG"
    mime_type = "image/jpeg"
    width = 48
    height = 40

    size_bytes = factory.LazyAttribute(lambda o: len(o.data))
    sha256 = factory.LazyAttribute(lambda o: hashlib.sha256(o.data).hexdigest())
    file = factory.LazyAttribute(
        lambda o: default_storage.save(f"uploads/test/{o.id}.jpg", ContentFile(o.data))
    )
