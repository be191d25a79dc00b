"""A property-based run over the whole API, generated from the served OpenAPI document.

schemathesis makes valid and invalid requests for every operation (a fixed seed, a bounded number
of examples each), signed in as a researcher over demo-like data; path ids are drawn from that
data half of the time so the requests reach real objects. Every answer must be free of server
errors and exactly what the document promises (status, media type, body schema). The test client
also checks each answer against the document itself (`tests/openapi_check.py`).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from usabtest.accounts import services as account_services
from usabtest.accounts.models import Role
from usabtest.db import utcnow

# Examples per operation: generating them costs more than answering them (about 25 ms a case).
EXAMPLES = {GenerationMode.POSITIVE: 6, GenerationMode.NEGATIVE: 3}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@pytest.fixture
def demo(db, make_user, make_study, make_participant, make_session, make_note):
    """A researcher's study as the demo has them: a script, participants, sessions at each stage, notes."""
    rita = make_user(name="Rita Researcher")
    olive = make_user(Role.OBSERVER, name="Olive Observer")
    study = make_study(owner=rita, tasks=3, title="Checkout study", custom_tags=["navigation"])
    people = [make_participant(study) for _ in range(3)]
    done = make_session(study=study, participant=people[0], observers=[olive], location="Lab 1",
                        starts_at=utcnow() - timedelta(days=2))
    running = make_session(study=study, participant=people[1], location="Lab 1",
                           starts_at=utcnow() + timedelta(days=1))
    later = make_session(study=study, participant=people[2], video_link="https://meet.example.com/x",
                         starts_at=utcnow() + timedelta(days=3))
    notes = [make_note(done, olive, "Hesitates at shipping", tags=["problem"], severity=2),
             make_note(running, rita, "Finds the gift quickly")]
    token = account_services.issue_token(rita, "property run")
    db.session.commit()
    ids = {
        "study_id": [study.id], "task_id": [t.id for t in study.tasks],
        "participant_id": [p.id for p in people], "session_id": [done.id, running.id, later.id],
        "note_id": [str(n.client_uuid) for n in notes],
    }
    return {"Authorization": f"Bearer {token}"}, ids


def _operations(client):
    document = client.get("/api/v1/openapi.json").get_json()
    schema = schemathesis.openapi.from_dict(document)
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.slow
@pytest.mark.config(OBSERVE_STREAM_SECONDS=0.05, OBSERVE_POLL_SECONDS=0.01, OBSERVE_HEARTBEAT_SECONDS=0.02)
def test_every_operation_answers_within_the_document_and_never_with_a_server_error(app, client, demo):
    headers, ids = demo
    operations = _operations(client)
    assert len(operations) >= 30
    calls: dict[str, int] = {}
    for operation in operations:
        for mode in EXAMPLES:
            _run(app, client, operation, mode, headers, ids, calls)
    reached = {label for label, count in calls.items() if count}
    assert reached == {op.label for op in operations}


def _run(app, client, operation, mode, headers, ids, calls) -> None:
    calls.setdefault(operation.label, 0)

    # No shrinking: a failure is reported as found, which keeps a failing run short too.
    @settings(max_examples=EXAMPLES[mode], derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
    def check(case, data):
        for name in case.path_parameters or {}:
            if name in ids and data.draw(st.booleans()):
                case.path_parameters[name] = data.draw(st.sampled_from(ids[name]))
        response = case.call(session=client, app=app, headers=headers)
        case.validate_response(response, checks=CHECKS)
        calls[operation.label] += 1

    try:
        check()
    except Unsatisfiable:
        # Nothing of this operation can be made invalid (no parameters, no body).
        assert mode is GenerationMode.NEGATIVE, operation.label
