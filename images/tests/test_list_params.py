"""The list's optional parameters: paging (Link and X-Total-Count headers), search, dates, processing state, ordering;
and no others."""

import base64
import json
import re
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from images.models import Image
from testutils import LIST_URL, image_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def images(user, other_user):
    """Seven images of `user` a minute apart (oldest first), with varied titles and sizes, and one of bob."""
    start = timezone.now() - timedelta(days=1)
    made = []
    for i, title in enumerate(["delta", "Alpha", "echo", "bravo", "Charlie sunset", "foxtrot", "golf"]):
        image = Image.objects.create(
            user=user,
            title=title,
            description="by the SEA" if i == 2 else "",
            size=1000 - i * 100,
            image=SimpleUploadedFile(f"{i}.png", image_bytes()),
        )
        Image.objects.filter(pk=image.pk).update(uploaded_at=start + timedelta(minutes=i))
        made.append(Image.objects.get(pk=image.pk))
    Image.objects.create(user=other_user, title="alpha of bob", image=SimpleUploadedFile("b.png", image_bytes()))
    return made


def ids(response) -> list[int]:
    return [item["id"] for item in response.json()]


def next_link(response) -> str | None:
    match = re.fullmatch(r'<(?P<url>[^>]+)>; rel="next"', response.get("Link", ""))
    return match["url"] if match else None


def test_without_parameters_the_list_is_the_whole_plain_array(auth_client, images):
    response = auth_client.get(LIST_URL)

    assert ids(response) == [image.pk for image in reversed(images)]
    assert "Link" not in response and "X-Total-Count" not in response


def test_limit_pages_through_everything_by_the_link_header(auth_client, images):
    seen, url, pages = [], f"{LIST_URL}?limit=3", 0
    while url:
        response = auth_client.get(url)
        assert response.status_code == 200
        assert isinstance(response.json(), list) and len(response.json()) <= 3
        seen += ids(response)
        url, pages = next_link(response), pages + 1

    assert pages == 3
    assert seen == [image.pk for image in reversed(images)]


def test_the_next_link_keeps_the_other_parameters(auth_client, images):
    response = auth_client.get(LIST_URL, {"limit": 2, "ordering": "title", "search": "o"})

    link = next_link(response)
    assert "ordering=title" in link and "search=o" in link and "limit=2" in link and "cursor=" in link
    second = auth_client.get(link)
    titles = [item["title"] for item in response.json() + second.json()]
    assert titles == sorted(titles, key=str)


def test_count_true_adds_x_total_count(auth_client, images):
    response = auth_client.get(LIST_URL, {"limit": 2, "count": "true"})

    assert response["X-Total-Count"] == "7"
    assert len(response.json()) == 2
    assert auth_client.get(LIST_URL, {"count": "true", "search": "alpha"})["X-Total-Count"] == "1"


def test_the_limit_is_capped_by_the_setting(auth_client, images, settings):
    settings.IMAGE_PAGE_SIZE_MAX = 4

    assert len(auth_client.get(LIST_URL, {"limit": 1000}).json()) == 4


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"limit": "0"}, {"limit": ["Enter a whole number of at least 1."]}),
        ({"limit": "ten"}, {"limit": ["Enter a whole number of at least 1."]}),
        ({"count": "maybe"}, {"count": ["Enter true or false."]}),
        ({"cursor": "not-a-cursor"}, {"cursor": ["Invalid cursor."]}),
        ({"uploaded_after": "yesterday"}, {"uploaded_after": ["Enter a valid date/time."]}),
        ({"uploaded_before": "2024-13-45"}, {"uploaded_before": ["Enter a valid date/time."]}),
        (
            {"ordering": "password"},
            {"ordering": ["Select a valid choice. password is not one of the available choices."]},
        ),
        (
            {"processing": "done"},
            {"processing": ["Select a valid choice. done is not one of the available choices."]},
        ),
    ],
)
def test_invalid_parameters_are_a_400_naming_the_parameter(auth_client, images, params, error):
    response = auth_client.get(LIST_URL, params)

    assert response.status_code == 400
    assert response.json() == error


@pytest.mark.parametrize("values", [[None, None], ["a\x00b", 1], ["2024-01-01T00:00:00+00:00", 10**30]])
def test_a_forged_cursor_is_refused(auth_client, images, values):
    forged = base64.urlsafe_b64encode(json.dumps([["-uploaded_at", "-id"], values]).encode()).decode()

    response = auth_client.get(LIST_URL, {"limit": 2, "cursor": forged})

    assert response.status_code == 400
    assert response.json() == {"cursor": ["Invalid cursor."]}


def test_a_cursor_from_another_ordering_is_refused(auth_client, images):
    link = next_link(auth_client.get(LIST_URL, {"limit": 2}))
    cursor = re.search(r"cursor=([^&]+)", link)[1]

    response = auth_client.get(LIST_URL, {"limit": 2, "cursor": cursor, "ordering": "title"})

    assert response.json() == {"cursor": ["Invalid cursor."]}


def test_search_matches_title_and_description_ignoring_case(auth_client, images):
    assert ids(auth_client.get(LIST_URL, {"search": "ALPHA"})) == [images[1].pk]
    assert ids(auth_client.get(LIST_URL, {"search": "sea"})) == [images[2].pk]  # in the description
    assert ids(auth_client.get(LIST_URL, {"search": "sunset"})) == [images[4].pk]
    assert ids(auth_client.get(LIST_URL, {"search": "nothing like it"})) == []


def test_uploaded_after_and_before_bound_the_dates(auth_client, images):
    after = images[2].uploaded_at.isoformat()
    before = images[5].uploaded_at.isoformat()

    response = auth_client.get(LIST_URL, {"uploaded_after": after, "uploaded_before": before})

    assert ids(response) == [images[4].pk, images[3].pk, images[2].pk]


@pytest.mark.parametrize(
    ("ordering", "key", "reverse"),
    [
        ("uploaded_at", "uploaded_at", False),
        ("-uploaded_at", "uploaded_at", True),
        ("title", "title", False),
        ("-title", "title", True),
        ("size", "size", False),
    ],
)
def test_ordering(auth_client, images, ordering, key, reverse):
    expected = sorted(images, key=lambda image: getattr(image, key), reverse=reverse)

    assert ids(auth_client.get(LIST_URL, {"ordering": ordering})) == [image.pk for image in expected]


def test_ordering_pages_with_equal_values_lose_and_repeat_nothing(auth_client, user, images):
    Image.objects.filter(user=user).update(title="same")  # every row ties on the ordering field

    seen, url = [], f"{LIST_URL}?limit=2&ordering=title"
    while url:
        response = auth_client.get(url)
        seen += ids(response)
        url = next_link(response)

    assert sorted(seen) == sorted(image.pk for image in images)
    assert len(seen) == len(set(seen))


def test_the_query_count_stays_constant_with_paging_search_and_ordering(auth_client, images, django_assert_num_queries):
    params = {"limit": 2, "search": "a", "ordering": "-title"}
    first = auth_client.get(LIST_URL, params)
    # The token's user, then the page of images with their owners.
    with django_assert_num_queries(2):
        auth_client.get(next_link(first))
    # With ?count=true, one more: the count.
    with django_assert_num_queries(3):
        auth_client.get(LIST_URL, {**params, "count": "true"})


# In the API description (the `schema` fixture, conftest.py); was in config/tests/test_api_surface.py.
def test_list_parameters_are_documented(schema):
    names = {p["name"] for p in schema["paths"]["/api/images/"]["get"]["parameters"]}

    assert {
        "limit",
        "cursor",
        "count",
        "search",
        "uploaded_after",
        "uploaded_before",
        "processing",
        "ordering",
    } <= names


KNOWN = "limit, cursor, count, search, checksum, uploaded_after, uploaded_before, processing, ordering"


@pytest.mark.parametrize("params", [{"page": "2"}, {"page": "2", "page_size": "10", "limit": "2"}, {"Limit": "2"}])
def test_an_unknown_parameter_is_a_400_naming_the_known_ones(auth_client, images, params):
    response = auth_client.get(LIST_URL, params)

    assert response.status_code == 400
    unknown = [name for name in params if name != "limit"]
    assert response.json() == {name: [f"Unknown query parameter. This list takes: {KNOWN}."] for name in unknown}


def test_every_parameter_the_description_lists_is_known(auth_client, images, schema):
    names = [p["name"] for p in schema["paths"]["/api/images/"]["get"]["parameters"] if p["in"] == "query"]

    assert sorted(names) == sorted(KNOWN.split(", "))
    assert "400" in schema["paths"]["/api/webhooks/"]["get"]["responses"]


def test_processing_selects_the_images_in_that_state(auth_client, images):
    Image.objects.filter(pk__in=[images[1].pk, images[4].pk]).update(processing=Image.Processing.FAILED)
    Image.objects.filter(pk=images[2].pk).update(processing=Image.Processing.READY)

    failed = auth_client.get(LIST_URL, {"processing": "failed"})
    pending = auth_client.get(LIST_URL, {"processing": "pending", "count": "true"})

    assert ids(failed) == [images[4].pk, images[1].pk]  # bob's images are never in the list
    assert [item["processing"] for item in failed.json()] == ["failed", "failed"]
    assert ids(pending) == [images[i].pk for i in (6, 5, 3, 0)]
    assert pending["X-Total-Count"] == "4"
