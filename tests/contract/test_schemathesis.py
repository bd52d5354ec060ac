"""Property-based contract tests: schemathesis reads the running API's OpenAPI document and, for
every operation, sends the examples it documents, the boundary and invalid values its schemas
suggest (the coverage phase) and generated requests, valid and invalid, as whoever the
operation is for (tests/contract/credentials.py), against a real server seeded with a world
(tests/contract/seeding.py); some generated values are swapped for ones that world holds and
some for hostile ones (tests/contract/substitutions.py).

Checked on every response (CHECKS_RUN): no server error (5xx), and what the contract documents
for the operation: the status code, content type, body schema and headers; and a request that
breaks the contract's schemas must be refused (4xx), not quietly read some other way. The
server's log lines for a failing request (5xx tracebacks are `http.unhandled_error`) are added
to the failure. After the module, the ledger the run leaves must verify
(tests/contract/conftest.py).

Environment:
- `WUJIANG_FUZZ_EXAMPLES`: generated examples per operation (default 15: the whole run in
  about two minutes on two cores; the coverage and examples phases come on top).
- `WUJIANG_FUZZ_SEED`: unset, the run is derandomized (the same cases every time, as CI wants);
  `random` for a fresh seed each run (exploring; a failure says the seed); a number replays
  that seed.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator

import pytest
import requests
import schemathesis
from schemathesis import Case
from schemathesis.checks import CHECKS

from tests.contract import serializers, substitutions
from tests.contract.conftest import Server
from tests.contract.credentials import Credentials, Seeder

assert serializers  # registers the feed batches' media types with schemathesis
DEFAULT_EXAMPLES = 15
CHECKS_RUN = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "negative_data_rejection",
]
REQUEST_TIMEOUT_SECONDS = 30


def _seed() -> int | None:
    """None: derandomized. Otherwise the seed of this run."""
    chosen = os.environ.get("WUJIANG_FUZZ_SEED", "").strip()
    if not chosen:
        return None
    if chosen == "random":
        return random.getrandbits(64)
    return int(chosen)


SEED = _seed()


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    """One connection pool for the run's requests, the fuzzed ones and its own."""
    with requests.Session() as session:
        yield session


@pytest.fixture(scope="module")
def credentials(fuzz_server: Server, seeder: Seeder, http: requests.Session) -> Credentials:
    return Credentials(seeder.world, seeder, fuzz_server.base_url, http)


@pytest.fixture(scope="module")
def api_schema(fuzz_server: Server, credentials: Credentials) -> schemathesis.BaseSchema:
    """The contract as the running server publishes it, configured from the environment."""
    config = schemathesis.Config.from_dict(
        {
            **({"seed": SEED} if SEED is not None else {}),
            "suppress-health-check": ["all"],
            "request-timeout": REQUEST_TIMEOUT_SECONDS,
            "generation": {
                "max-examples": int(os.environ.get("WUJIANG_FUZZ_EXAMPLES", DEFAULT_EXAMPLES)),
                "deterministic": SEED is None,
                "database": "none",  # nothing written to .hypothesis/
                # The run sends its own credentials; generated ones would only be replaced.
                "with-security-parameters": False,
                # Query parameters and headers the contract does not name are ignored, not
                # refused (clients newer than the server may send them): no negative case.
                "allow-extra-parameters": False,
            },
            "operations": [
                {
                    # A batch is judged line by line: lines that are not records are reported
                    # in the 200 and the others imported, by design (README, "Feeds").
                    "include-path": "/v1/feeds/{source}/batches",
                    "checks": {"negative_data_rejection": {"enabled": False}},
                }
            ],
        }
    )
    schema = schemathesis.openapi.from_url(f"{fuzz_server.base_url}/openapi.json", config=config)
    schema.config.update(base_url=fuzz_server.base_url)
    # Named by exclusion: an included check would be switched on for every operation, over the
    # per-operation exceptions above.
    unwanted = [name for name in CHECKS.get_all_names() if name not in CHECKS_RUN]
    schema.config.checks.update(excluded_check_names=unwanted)
    known = substitutions.known_values(credentials.world, credentials.live)
    schema.hook("map_case")(substitutions.hook(known))
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
def test_api(
    case: Case, credentials: Credentials, fuzz_server: Server, http: requests.Session
) -> None:
    secured = bool(case.operation.definition.raw.get("security"))
    offset = fuzz_server.log_offset()
    try:
        prepared = credentials.prepare(case.method, case.path, secured=secured)
        response = case.call(session=http, headers=prepared.headers, auth=prepared.auth)
        if credentials.settle(case.method, case.path, prepared, response.status_code):
            prepared = credentials.prepare(case.method, case.path, secured=secured)
            response = case.call(session=http, headers=prepared.headers, auth=prepared.auth)
            credentials.settle(case.method, case.path, prepared, response.status_code)
        case.validate_response(
            response,
            headers=prepared.headers,
            transport_kwargs={"session": http, "headers": prepared.headers, "auth": prepared.auth},
        )
    except BaseException as failure:
        failure.add_note(f"server log of the request:\n{fuzz_server.log_since(offset)}")
        if SEED is not None:
            failure.add_note(f"replay with WUJIANG_FUZZ_SEED={SEED}")
        raise
