import pytest

from images.tests.factories import ImageFactory
from jobs import services


@pytest.mark.django_db
def test_dashboard_shows_counts_recent_images_and_jobs(
    client_user, user, other_user, django_assert_num_queries
):
    mine = [ImageFactory(owner=user) for _ in range(3)]
    ImageFactory(owner=other_user)
    job = services.job_submit(
        owner=user, job_type="image_classification", image_ids=[i.id for i in mine]
    ).job
    with django_assert_num_queries(7):  # + the nav's running-jobs badge
        html = client_user.get("/").content.decode()
    assert '<strong id="image-count">3</strong>' in html
    assert '<strong id="active-jobs">1</strong>' in html
    assert f'href="/jobs/{job.id}/"' in html
    assert html.count('class="tile"') == 3


@pytest.mark.django_db
def test_dashboard_for_a_new_user_points_to_upload(client_user):
    html = client_user.get("/").content.decode()
    assert '<strong id="image-count">0</strong>' in html
    assert 'href="/images/upload/"' in html
