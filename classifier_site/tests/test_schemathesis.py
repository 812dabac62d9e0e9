"""Schemathesis against a live test server: the OpenAPI schema tells the truth.

Every operation, positive and negative examples (bounded), all checks, and stateful
sequences along the schema's links. What the schema cannot express is declared once, in
``classifier_site/core/schema.py`` ``NOT_EXPRESSIBLE``, which turns off exactly that check
for exactly that operation.
"""

from __future__ import annotations

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode

from classifier_site.core.schema import NOT_EXPRESSIBLE
from images.tests.factories import ImageFactory

pytestmark = pytest.mark.django_db(transaction=True)

MAX_EXAMPLES = 10
SETTINGS = hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def _config() -> schemathesis.Config:
    operations: dict[str, dict] = {}
    for (operation_id, check), _reason in NOT_EXPRESSIBLE.items():
        entry = operations.setdefault(
            operation_id, {"include-operation-id": operation_id, "checks": {}}
        )
        entry["checks"][check] = {"enabled": False}
    return schemathesis.Config.from_dict(
        {
            "generation": {"mode": "all", "max-examples": MAX_EXAMPLES},
            "checks": {"enabled": True},
            "operations": list(operations.values()),
        }
    )


@pytest.fixture
def api_auth(user, local_storage, inference_weights) -> dict[str, str]:
    token, _ = Token.objects.get_or_create(user=user)
    # Something to find: images, so ids and lists are not all empty.
    for seed in range(2):
        ImageFactory(stored=True, owner=user, seed=seed)
    return {"Authorization": f"Token {token.key}"}


@pytest.fixture
def api_schema(live_server, api_auth, settings):
    settings.PREDICT_WAIT_SECONDS = 0  # answer 202 at once: no worker runs here
    # The token throttle would turn a generated stream of logins into 429s (documented),
    # drowning the other answers; the throttle has its own test.
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            "user": "100000/hour",
            "anon": "100000/hour",
            "token_obtain": "100000/minute",
        },
    }
    return schemathesis.openapi.from_url(
        f"{live_server.url}/api/v1/schema/?format=json", config=_config(), headers=api_auth
    )


def test_every_operation(api_schema, api_auth):
    # One test walking the operations (schemathesis' pytest plugin does not run under this
    # pytest): every operation, positive and negative data; all failures reported at once.
    failures: list[str] = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 20
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
            @SETTINGS
            def run(case):
                case.call_and_validate(headers=api_auth)

            try:
                run()
            except hypothesis.errors.Unsatisfiable:
                continue  # no invalid value exists for this operation's inputs (plain strings)
            except (Exception, BaseExceptionGroup) as exc:  # collect, report all at once
                failures.append(f"{operation.label} [{mode.value}]: {exc}"[:3000])
    assert not failures, "\n\n".join(failures)


def test_stateful_links(api_schema, api_auth):
    class Workflow(api_schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case):
            return {"headers": api_auth}

    Workflow.run(
        settings=hypothesis.settings(
            max_examples=10,
            stateful_step_count=6,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )


def test_every_exception_names_a_real_operation_and_check(api_schema):
    ids = {op.ok().definition.raw.get("operationId") for op in api_schema.get_all_operations()}
    from schemathesis.checks import CHECKS

    names = set(CHECKS.get_all_names())
    for (operation_id, check), reason in NOT_EXPRESSIBLE.items():
        assert operation_id in ids, operation_id
        assert check in names, check
        assert len(reason) > 20
