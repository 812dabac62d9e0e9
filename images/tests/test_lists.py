"""Gallery and API list: constant query counts, keyset pages, filters and sorts."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from images.models import Image
from images.selectors import ImageFilters, image_list, image_page
from images.tests.factories import ImageFactory


@pytest.mark.parametrize("n", [3, 30])
def test_gallery_queries_do_not_grow(n, client_user, user, django_assert_num_queries):
    ImageFactory.create_batch(n, owner=user)

    # session, user, count, page, latest labels, busy images, label facet, nav badge
    with django_assert_num_queries(8):
        response = client_user.get("/images/")

    assert response.status_code == 200
    assert response.content.count(b'class="tile"') == n


@pytest.mark.parametrize("n", [3, 30])
def test_gallery_partial_queries_do_not_grow(n, client_user, user, django_assert_num_queries):
    ImageFactory.create_batch(n, owner=user)

    # session, user, count, page, latest labels, busy images
    with django_assert_num_queries(6):
        response = client_user.get("/images/?q=photo", headers={"HX-Request": "true"})

    assert response.content.count(b'class="tile"') == n
    assert b"<html" not in response.content


@pytest.mark.parametrize("n", [3, 30])
def test_api_list_queries_do_not_grow(n, token_client, user, django_assert_num_queries):
    ImageFactory.create_batch(n, owner=user)

    # token+user, count, page
    with django_assert_num_queries(3):
        response = token_client.get("/api/v1/images")

    assert response.json()["count"] == n
    assert len(response.json()["results"]) == n


def _stamp(images):
    base = timezone.now() - dt.timedelta(days=30)
    for i, image in enumerate(images):
        # Pairs share a timestamp so the id tie-break is exercised.
        image.created_at = base + dt.timedelta(hours=i // 2)
    Image.objects.bulk_update(images, ["created_at"])


@pytest.mark.parametrize("sort", ["newest", "oldest", "name", "size"])
def test_keyset_pages_walk_every_row_once_both_ways(sort, user):
    images = ImageFactory.create_batch(23, owner=user)
    _stamp(images)
    for i, image in enumerate(images):  # duplicate names and sizes too
        image.original_filename = f"n{i % 5}.jpg"
        image.size_bytes = 100 * (i % 4)
    Image.objects.bulk_update(images, ["original_filename", "size_bytes"])
    qs = image_list(user=user, filters=ImageFilters(sort=sort))
    expected = list(qs.values_list("id", flat=True))

    pages, cursor = [], None
    while True:
        page = image_page(qs, sort=sort, after=cursor, size=5)
        pages.append(page)
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    forward = [image.pk for page in pages for image in page.items]

    assert forward == expected
    assert [len(p.items) for p in pages] == [5, 5, 5, 5, 3]
    assert pages[0].prev_cursor is None

    back, cursor = [], pages[-1].prev_cursor
    while cursor:
        page = image_page(qs, sort=sort, before=cursor, size=5)
        back = [image.pk for image in page.items] + back
        cursor = page.prev_cursor
    assert back == expected[:20]


def test_a_bad_cursor_gives_the_first_page(user):
    ImageFactory.create_batch(3, owner=user)
    qs = image_list(user=user)

    page = image_page(qs, sort="newest", after="not-a-cursor", size=2)

    assert [i.pk for i in page.items] == list(qs.values_list("id", flat=True)[:2])


def test_filters(user):
    jpg = ImageFactory(owner=user, original_filename="Beach Day.jpg")
    png = ImageFactory(
        owner=user, original_filename="chart.png", format="PNG", mime_type="image/png"
    )
    old = ImageFactory(owner=user, original_filename="beach-old.jpg")
    Image.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=400))
    today = timezone.localdate()

    def ids(**params):
        return set(
            image_list(user=user, filters=ImageFilters.from_params(params)).values_list(
                "id", flat=True
            )
        )

    assert ids(q="beach") == {jpg.pk, old.pk}
    assert ids(format="png") == {png.pk}
    assert ids(date_from=today.isoformat()) == {jpg.pk, png.pk}
    assert ids(date_to=(today - dt.timedelta(days=1)).isoformat()) == {old.pk}
    assert ids(format="exe", date_from="yesterday") == {jpg.pk, png.pk, old.pk}


def test_api_rejects_bad_filters(token_client):
    response = token_client.get("/api/v1/images?format=exe")

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "format": ["must be one of bmp, gif, jpeg, png, tiff, webp."]
    }


def test_api_list_pages_with_links(token_client, user):
    ImageFactory.create_batch(5, owner=user)

    first = token_client.get("/api/v1/images?limit=2&sort=size").json()
    second = token_client.get(first["next"]).json()

    assert first["count"] == 5
    assert first["previous"] is None
    sizes = [r["size"] for r in first["results"] + second["results"]]
    assert sizes == sorted(sizes, reverse=True)
    assert len(set(r["id"] for r in first["results"] + second["results"])) == 4
    assert set(first["results"][0]) == {
        "id",
        "key",
        "filename",
        "size",
        "last_modified",
        "format",
        "mime_type",
        "width",
        "height",
        "sha256",
        "created_at",
        "file_url",
        "thumbnail_url",
    }
