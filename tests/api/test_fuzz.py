"""Fuzzing every operation of `/openapi.json` with schemathesis: no input may produce a 5xx.

Two tests, both bounded and derandomized (fixed seeds, no example database, no shrinking),
both against a real `wayline serve` (ENV=dev, so the document is served) whose providers,
embeddings, images and audio all point at the fake upstream, so requests that pass
validation are really forwarded (this is how an unforwardable body — a 2**100 integer, a
lone surrogate — was found to answer 500 before `core/http.py` mapped it to 400):

- `test_no_operation_answers_5xx`: each operation alone, valid and invalid inputs, with an
  admin API key so admin-only code is reached too.
- `test_concurrent_stateful_sequences_never_answer_5xx`: schemathesis' state machine
  (links it infers from the document: create a file → read/update/delete it, create a
  collection → add files …) run by several users at once — an admin and plain users, each
  in its own process with its own session — so sequences race each other on shared tables.
  (Processes, not threads: hypothesis compiles code as it runs, and CPython 3.11's compiler
  is not thread-safe — "AST constructor recursion depth mismatch".)

Excluded, and why: operations that would revoke the caller's own credential midway
(`/api/v1/auths/api_key` (re)creation or deletion, sign-out, password change) — they
would turn the rest of the run into 401s, hiding everything after them. For the same
reason the concurrent admin does not change, demote or delete users (itself included), and the
state machines hold a session JWT rather than an API key (their key operations may revoke
the caller's own keys).
"""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import FlakyStrategyDefinition
from schemathesis import GenerationMode

from tests.conftest import Account, LiveServer, signup
from tests.soak.runner import server_log_errors

EXAMPLES = 5  # per operation and generation mode
EXCLUDED = {
    ("POST", "/api/v1/auths/api_key"),
    ("DELETE", "/api/v1/auths/api_key"),
    ("GET", "/api/v1/auths/signout"),
    ("POST", "/api/v1/auths/signout"),
    ("POST", "/api/v1/auths/update/password"),
}
# The state machines call with a session JWT, so creating and revoking API keys is fair game
# (their links reach the caller's own default key); only ending the session is not.
STATEFUL_EXCLUDED = {
    ("GET", "/api/v1/auths/signout"),
    ("POST", "/api/v1/auths/signout"),
    ("POST", "/api/v1/auths/update/password"),
}
# The concurrent admin must not lock itself or the other fuzzers out of the rest of the run.
ADMIN_EXCLUDED = STATEFUL_EXCLUDED | {
    ("POST", "/api/v1/users/update/role"),
    ("POST", "/api/v1/users/{user_id}/update"),
    ("DELETE", "/api/v1/users/{user_id}"),
    ("POST", "/api/v1/users/{user_id}/sessions/revoke"),  # would end its own session
}
STATEFUL_USERS = 3  # plain users, plus one admin: four state machines at once
STATEFUL_SCENARIOS = 40  # per state machine
STATEFUL_STEPS = 15  # at most, per scenario
SWEEP_EXAMPLES = 2  # per operation and generation mode, in each concurrent sweep
# A state machine's draws depend on the answers it gets (links read ids out of them), and the
# other fuzzers change those answers, so hypothesis may find a replayed prefix drawing
# differently and stop with FlakyStrategyDefinition: that machine then starts afresh.
STATEFUL_RESTARTS = 3


def fuzz_server(live_server_factory: Callable[..., LiveServer], fake_upstream: Any) -> LiveServer:
    url = fake_upstream.openai_url
    return live_server_factory(
        ENV="dev",
        RAG_EMBEDDING_ENGINE="openai",
        RAG_OPENAI_API_BASE_URL=url,
        OLLAMA_BASE_URLS=fake_upstream.ollama_url,
        OPENAI_API_BASE_URLS=url,
        ENABLE_IMAGE_GENERATION="true",
        IMAGES_OPENAI_API_BASE_URL=url,
        AUDIO_STT_ENGINE="openai",
        AUDIO_STT_OPENAI_API_BASE_URL=url,
        AUDIO_TTS_ENGINE="openai",
        AUDIO_TTS_OPENAI_API_BASE_URL=url,
    )


def test_no_operation_answers_5xx(live_server_factory, fake_upstream):
    live = fuzz_server(live_server_factory, fake_upstream)
    with httpx.Client(base_url=live.url) as http:
        admin = signup(http, "Admin")
        document = http.get("/openapi.json").json()
    schema = schemathesis.openapi.from_dict(document)
    auth = {"Authorization": f"Bearer {admin.api_key}"}

    failures: list[str] = []
    tested = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in EXCLUDED:
            continue
        tested += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            failures += first_5xx(operation, mode, live.url, auth)
    assert tested > 50, f"only {tested} operations found in /openapi.json"
    assert not failures, "5xx answers:\n" + "\n".join(failures)


def first_5xx(
    operation: Any, mode: GenerationMode, base_url: str, auth: dict[str, str]
) -> list[str]:
    """Fuzz one operation in one generation mode: its first 5xx answer and a reproducer, if any."""
    seen: list[str] = []

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case) -> None:
        response = case.call(base_url=base_url, headers=auth, timeout=30)
        if response.status_code >= 500 and not seen:
            seen.append(
                f"{operation.label} [{mode.value}] -> {response.status_code}: "
                f"{response.text[:200]}\n    reproduce: {case.as_curl_command()}"
            )

    run()
    return seen


class Findings:
    """What the concurrent state machines saw: every call's status, and each 5xx (first of its
    kind in full)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls = 0
        self.statuses: Counter[tuple[str, int]] = Counter()
        self.operations: set[str] = set()
        self.server_errors: dict[tuple[str, int], list[str]] = {}

    def record(self, who: str, case: schemathesis.Case, response: Any) -> None:
        with self.lock:
            self.calls += 1
            self.statuses[(who, response.status_code)] += 1
            self.operations.add(case.operation.label)
            if response.status_code >= 500:
                self.server_errors.setdefault(
                    (case.operation.label, response.status_code), []
                ).append(
                    f"{case.operation.label} as {who} -> {response.status_code}: "
                    f"{response.text[:200]}\n"
                    "    reproduce (add the caller's Authorization header): "
                    f"{case.as_curl_command()}"
                )

    def report(self) -> str:
        return "\n".join(f"x{len(seen)} {seen[0]}" for seen in self.server_errors.values())

    def export(self) -> dict[str, Any]:
        """What another process saw, as plain data (the lock stays behind)."""
        return {
            "calls": self.calls,
            "statuses": self.statuses,
            "operations": self.operations,
            "server_errors": self.server_errors,
        }

    def merge(self, data: dict[str, Any]) -> None:
        with self.lock:
            self.calls += data["calls"]
            self.statuses.update(data["statuses"])
            self.operations |= data["operations"]
            for key, seen in data["server_errors"].items():
                self.server_errors.setdefault(key, []).extend(seen)


def in_process(work: Callable[[Findings], None]) -> Callable[[Findings], str | None]:
    """Run `work` in a forked process; the returned callable waits for it, merges what it
    found into the caller's `Findings` and answers its crash, if any."""
    context = multiprocessing.get_context("fork")
    results = context.SimpleQueue()

    def child() -> None:
        findings, crash = Findings(), None
        try:
            work(findings)
        except Exception as exc:
            crash = repr(exc)[:2000]
        results.put((findings.export(), crash))

    process = context.Process(target=child, daemon=True)
    process.start()

    def wait(findings: Findings) -> str | None:
        data, crash = results.get()
        process.join(timeout=30)
        findings.merge(data)
        return crash

    return wait


def state_machine(
    document: dict[str, Any],
    base_url: str,
    account: Account,
    excluded: set[tuple[str, str]],
    seed: int,
    findings: Findings,
) -> type:
    """schemathesis' state machine for `document`, calling as `account` and recording every
    answer."""
    schema = schemathesis.openapi.from_dict(document).exclude(
        func=lambda ctx: (ctx.operation.method.upper(), ctx.operation.path) in excluded
    )
    headers = account.jwt_headers

    class Machine(schema.as_state_machine()):  # type: ignore[misc]
        rule_order_seed = seed  # each machine opens its scenarios with a different operation order

        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"base_url": base_url, "headers": headers, "timeout": 30}

        def validate_response(
            self,
            response: Any,
            case: schemathesis.Case,
            additional_checks: Any = None,
            **kwargs: Any,
        ) -> None:
            # Only "no 5xx" is asserted (afterwards, all at once), so one finding does not end
            # the run.
            findings.record(account.role, case, response)

    return Machine


def sweep(
    document: dict[str, Any],
    base_url: str,
    account: Account,
    excluded: set[tuple[str, str]],
    reverse: bool,
    findings: Findings,
) -> Callable[[], None]:
    """Every operation (the state machine only reaches linked ones), valid and invalid inputs,
    as `account`.

    The cases are drawn here, in the calling thread: defining and running `@given` tests in several
    threads at once trips CPython 3.11's "AST constructor recursion depth mismatch" SystemError."""
    cases: list[schemathesis.Case] = []
    for result in schemathesis.openapi.from_dict(document).get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in excluded:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=SWEEP_EXAMPLES,
                derandomize=True,
                database=None,
                deadline=None,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def draw(case: schemathesis.Case) -> None:
                cases.append(case)

            draw()
    headers = account.jwt_headers

    def run() -> None:
        for case in reversed(cases) if reverse else cases:
            findings.record(
                account.role, case, case.call(base_url=base_url, headers=headers, timeout=30)
            )

    return run


def test_concurrent_stateful_sequences_never_answer_5xx(live_server_factory, fake_upstream):
    live = fuzz_server(live_server_factory, fake_upstream)
    with httpx.Client(base_url=live.url) as http:
        admin = signup(http, "Admin")
        users = [signup(http, f"Fuzzer{i}", admin=admin) for i in range(STATEFUL_USERS)]
        document = http.get("/openapi.json").json()
    findings = Findings()
    run_settings = settings(
        max_examples=STATEFUL_SCENARIOS,
        stateful_step_count=STATEFUL_STEPS,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    # Alongside the machines, one admin and one user sweep every operation (from opposite ends).
    workers: dict[str, Callable[[], None]] = {
        "sweep as admin": sweep(document, live.url, admin, ADMIN_EXCLUDED, False, findings),
        "sweep as user": sweep(document, live.url, users[0], STATEFUL_EXCLUDED, True, findings),
    }
    machines: dict[str, Callable[[Findings], str | None]] = {}
    for seed, account in enumerate([admin, *users]):
        excluded = ADMIN_EXCLUDED if account is admin else STATEFUL_EXCLUDED

        def drive(
            found: Findings, account: Account = account, excluded: set = excluded, seed: int = seed
        ) -> None:
            for restart in range(STATEFUL_RESTARTS + 1):
                machine = state_machine(
                    document, live.url, account, excluded, seed + 10 * restart, found
                )
                try:
                    machine.run(settings=run_settings)
                    return
                except FlakyStrategyDefinition:
                    if restart == STATEFUL_RESTARTS:
                        raise

        machines[f"state machine as {account.email}"] = in_process(drive)
    crashes: list[str] = []

    def run(name: str, work: Callable[[], None]) -> None:
        try:
            work()
        except Exception as exc:
            crashes.append(f"{name}: {exc!r}"[:2000])

    threads = [threading.Thread(target=run, args=item, name=item[0]) for item in workers.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for name, wait in machines.items():
        crash = wait(findings)
        if crash is not None:
            crashes.append(f"{name}: {crash}")

    with httpx.Client(base_url=live.url) as http:
        locked_out = [
            a.role
            for a in (admin, *users)
            if http.get("/api/v1/auths/", headers=a.jwt_headers).status_code != 200
        ]
    assert not crashes, "fuzzers crashed:\n" + "\n".join(crashes)
    assert not locked_out, (
        f"fuzzers lost their session midway (the rest of their run was 401s): {locked_out}"
    )
    assert findings.calls > 1000 and len(findings.operations) > 100, (
        f"too little was exercised: {findings.calls} calls over "
        f"{len(findings.operations)} operations"
    )
    log = Path(live.env["DATA_DIR"]).parent / f"server-{live.url.rsplit(':', 1)[1]}.log"
    assert not findings.server_errors, (
        f"5xx answers ({findings.calls} calls over {len(findings.operations)} operations, "
        f"statuses by caller {dict(findings.statuses)}):\n{findings.report()}\n\n"
        "server tracebacks:\n" + "\n".join(server_log_errors(log))
    )
