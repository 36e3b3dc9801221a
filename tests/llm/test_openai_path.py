"""The OpenAI-compatible path, end to end over HTTP, with recorded answers of a real model.

Every test runs under `respx.mock(assert_all_mocked=True)` and a socket guard: a request that
respx does not answer fails, and one that slips past respx (openai 3.x's own httpx2 client,
for instance) hits the guard instead of the network. The backends are built by our factory
(`agent.llm.backends.build_backend`) from the environment, exactly as the app builds them.

Recordings: `tests/fixtures/recorded/` (see `tests/fixtures/record.py`). The function-calling
stream of the fallback test is hand-written and labelled synthetic.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import openai
import pytest
import respx
from langchain_openai import ChatOpenAI
from tenacity import wait_none

import agent.llm.backends
from agent.config import Settings
from agent.conversation import Conversation
from agent.domain.session import HiddenState, PatientTurnOutput, PublicTurn
from agent.domain.taxonomy import EventKind, Speaker
from agent.evaluator.judge import Judge, JudgeOutput
from agent.evaluator.merge import AllianceEvaluator
from agent.llm.backends import ChatBackend, build_backend, describe_failure
from agent.llm.structured import strict_json_schema
from agent.patient.engine import MAX_ATTEMPTS
from agent.patient.guard import fallback_reply
from agent.persona.loader import load_persona
from agent.persona.model import Persona
from tests.support.network import NetworkGuard
from tests.support.openai_http import (
    API_KEY,
    BASE_URL,
    COMPLETIONS,
    JUDGE_RECORDING,
    PATIENT_RECORDING,
    error_response,
    load_recording,
    request_json,
    schema_shape,
    sse_data,
    sse_response,
    structured_mode_of,
    structured_name_of,
    synthetic_tool_call_sse,
)

PATIENT = load_recording(PATIENT_RECORDING)
JUDGE = load_recording(JUDGE_RECORDING)
RECORDED_TURN = PatientTurnOutput.model_validate_json(PATIENT.text)
LEARNER = str(PATIENT.meta["input"]["learner"])
UNAUTHORIZED = "Incorrect API key provided: sk-te**. You can find your API key at https://platform.example.test."


def persona() -> Persona:
    return load_persona(Settings(_env_file=None).personas_dir / f"{PATIENT.meta['input']['persona']}.yaml")  # type: ignore[call-arg]


def backend_for(settings: Settings) -> ChatBackend:
    return build_backend(settings, f"openai:{PATIENT.model}")


def conversation(settings: Settings, backend: ChatBackend, evaluator: Any = None) -> Conversation:
    loaded = persona()
    return Conversation(str(PATIENT.meta["input"]["persona"]), loaded, backend, settings, evaluator)


# --------------------------------------------------------------------------------------
# The recordings themselves
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("recording", [PATIENT, JUDGE], ids=lambda r: r.name)
def test_recordings_name_their_model_and_date_and_hold_no_secret(recording: Any) -> None:
    header = recording.meta["recorded"]
    assert header["model"] and header["date"] and header["by"] == "tests/fixtures/record.py"
    first_line = recording.body.split(b"\n", 1)[0].decode("utf-8")
    assert first_line.startswith(": ")  # an SSE comment: readers skip it
    assert f": model: {header['model']}".encode() in recording.body
    assert sse_data(recording.body), "the recording holds no data events"
    assert recording.body.rstrip().endswith(b"data: [DONE]")
    assert recording.meta["response"]["status"] == 200
    assert recording.meta["response"]["text"] == recording.text
    assert all(e.get("model") == header["model"] for e in sse_data(recording.body) if "model" in e)
    everything = json.dumps(recording.meta) + recording.body.decode("utf-8")
    assert "authorization" not in everything.lower()
    assert "bearer" not in everything.lower()


@pytest.mark.parametrize(
    ("recording", "output", "name"),
    [(PATIENT, PatientTurnOutput, "patient_turn"), (JUDGE, JudgeOutput, "alliance_findings")],
    ids=["patient", "judge"],
)
def test_recorded_requests_match_what_our_code_asks_today(recording: Any, output: Any, name: str) -> None:
    """A recording made for another schema would test nothing: re-run tests/fixtures/record.py."""
    body = recording.request_body
    assert body["stream"] is True
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["name"] == name
    recorded = schema_shape(body["response_format"]["json_schema"]["schema"])
    assert recorded == schema_shape(strict_json_schema(output)), "stale recording: re-record it"


# --------------------------------------------------------------------------------------
# The mock cannot be bypassed
# --------------------------------------------------------------------------------------


def test_factory_gives_chat_openai_the_httpx_clients_that_respx_patches(openai_settings: Settings) -> None:
    backend = backend_for(openai_settings)
    model = backend.model
    assert isinstance(model, ChatOpenAI)
    assert backend.label == f"openai:{PATIENT.model}"
    assert isinstance(model.http_async_client, httpx.AsyncClient)
    assert isinstance(model.http_client, httpx.Client)
    # The SDK sends through these very objects, not a default (httpx2) client of its own.
    assert model.root_async_client._client is model.http_async_client
    assert model.root_client._client is model.http_client
    assert str(model.root_async_client.base_url).rstrip("/") == BASE_URL
    assert API_KEY not in repr(backend)


async def test_a_request_no_route_answers_fails_instead_of_leaving(
    openai_env: None, monkeypatch: pytest.MonkeyPatch, api: respx.MockRouter, network_guard: NetworkGuard
) -> None:
    answered = api.post(COMPLETIONS).mock(side_effect=lambda request: PATIENT.response())
    monkeypatch.setenv("OPENAI_BASE_URL", "https://elsewhere.example.test/v1")
    backend = build_backend(Settings(_env_file=None), f"openai:{PATIENT.model}")  # type: ignore[call-arg]

    # respx's own error reaches the caller: nothing was sent anywhere, and nothing can be mistaken
    # for an ordinary connection failure.
    with pytest.raises(respx.models.AllMockedAssertionError):
        await backend.model.ainvoke("hello")

    assert not answered.called
    assert network_guard.attempts == []  # refused by respx, not by the socket guard
    # The same through the raw client our factory built.
    client = backend.model.http_async_client
    with pytest.raises(respx.models.AllMockedAssertionError):
        await client.get("https://elsewhere.example.test/v1/models")


async def test_control_the_sdk_default_client_would_escape_respx(
    api: respx.MockRouter, network_guard: NetworkGuard
) -> None:
    """Why the factory passes explicit clients: without them respx never sees the request."""
    route = api.post(COMPLETIONS).mock(side_effect=lambda request: PATIENT.response())
    bare = ChatOpenAI(model="m", api_key=API_KEY, base_url=BASE_URL, max_retries=0)  # type: ignore[arg-type]

    with pytest.raises((openai.APIConnectionError, RuntimeError)):  # RuntimeError: the network guard
        await bare.ainvoke("hello")

    assert not route.called
    assert network_guard.attempts, "the escaped request should have hit the socket guard"
    network_guard.attempts.clear()


# --------------------------------------------------------------------------------------
# Replays: patient and judge
# --------------------------------------------------------------------------------------


@pytest.fixture
def transport_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """For tests of the HTTP path alone: the recorded reply is in an assistant's voice (see the streaming test,
    where the voice check rejects it), so the voice check is turned off here to count one request per turn."""
    import agent.patient.engine

    monkeypatch.setattr(agent.patient.engine, "voice_problems", lambda *args, **kwargs: [])


async def test_recorded_patient_turn_streams_token_by_token_through_the_engine(
    openai_settings: Settings, api: respx.MockRouter
) -> None:
    progress: dict[str, int] = {}
    route = api.post(COMPLETIONS).mock(side_effect=lambda request: PATIENT.response(progress))
    backend = backend_for(openai_settings)
    chat = conversation(openai_settings, backend)
    tokens: list[str] = []
    seen_at: list[int] = []

    async def on_token(token: str) -> None:
        tokens.append(token)
        seen_at.append(progress["sent"])

    outcome = await chat.learner_says(LEARNER, on_token)

    assert outcome.error is None and outcome.patient_turn is not None
    # Token by token, and while the answer was still arriving, not after it was complete.
    assert len(tokens) > 3
    assert seen_at[0] < progress["total"]
    assert "".join(tokens) == outcome.streamed == RECORDED_TURN.reply
    # The hidden state is parsed and stored with the turn; none of it was streamed.
    stored = chat.session.turns[-1]
    assert stored.speaker is Speaker.patient
    assert isinstance(stored.hidden, HiddenState)
    assert stored.hidden == RECORDED_TURN.hidden
    assert stored.hidden.inner_monologue not in outcome.streamed
    assert chat.session.last_hidden() == RECORDED_TURN.hidden
    # The recorded reply of the embedded model is an assistant's ("Je suis désolée, mais je ne peux pas vous
    # aider avec ça. Si vous avez besoin de quelque chose de plus, n'hésitez pas à me le dire."): the voice
    # check asks again (the same recording answers each time), then falls back; the learner's screen gets it.
    assert route.call_count == MAX_ATTEMPTS
    assert stored.guard is not None and stored.guard.action == "fallback" and stored.guard.voice
    assert outcome.patient_turn.text == fallback_reply("fr")
    # What our code sent.
    request = route.calls[0].request
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    body = request_json(request)
    assert body["model"] == PATIENT.model and body["stream"] is True
    assert structured_mode_of(body) == "json_schema" and structured_name_of(body) == "patient_turn"
    assert body["messages"][0]["role"] == "system"
    assert body["messages"][-1] == {"role": "user", "content": f"Le médecin : {LEARNER}"}  # labelled as the doctor's


async def test_recorded_judge_call_yields_events_whose_evidence_is_quoted(
    openai_settings: Settings, api: respx.MockRouter
) -> None:
    route = api.post(COMPLETIONS).mock(side_effect=lambda request: JUDGE.response())
    turns = JUDGE.meta["input"]["transcript"]
    transcript = [PublicTurn(id=i, speaker=Speaker(t["speaker"]), text=t["text"]) for i, t in enumerate(turns)]
    last = transcript[-1]
    evaluator = AllianceEvaluator(judge=Judge(build_backend(openai_settings, f"openai:{JUDGE.model}"), openai_settings))

    events = await evaluator.evaluate(transcript, JUDGE.meta["input"]["lang"])

    assert route.call_count == 1
    recorded = JudgeOutput.model_validate_json(JUDGE.text)
    assert events, f"the recorded findings yielded no event: {recorded}"
    assert len(events) <= len(recorded.findings)
    for event in events:
        assert event.source == "judge"
        assert event.turn == last.id and event.speaker is last.speaker
        assert event.kind in (EventKind.rupture_marker, EventKind.repair_attempt)
        assert event.evidence and event.evidence in last.text
        assert 0.0 <= event.confidence <= 1.0
    body = request_json(route.calls.last.request)
    assert structured_mode_of(body) == "json_schema" and structured_name_of(body) == "alliance_findings"
    # The judge reads the observer transcript: every turn's words, in order, in the user message.
    user = body["messages"][-1]["content"]
    positions = [user.index(turn.text) for turn in transcript]
    assert positions == sorted(positions)


# --------------------------------------------------------------------------------------
# Structured-output fallback
# --------------------------------------------------------------------------------------


@pytest.mark.usefixtures("transport_only")
async def test_json_schema_refused_with_400_falls_back_to_function_calling(
    openai_settings: Settings, api: respx.MockRouter
) -> None:
    arguments = RECORDED_TURN.model_dump_json()
    tool_stream = synthetic_tool_call_sse("patient_turn", arguments, PATIENT.model)
    assert tool_stream.startswith(b": synthetic")

    def answer(request: httpx.Request) -> httpx.Response:
        body = request_json(request)
        if structured_mode_of(body) == "json_schema":
            return error_response(400, "response_format 'json_schema' is not supported", "invalid_request_error")
        return sse_response(tool_stream)

    route = api.post(COMPLETIONS).mock(side_effect=answer)
    backend = backend_for(openai_settings)
    assert backend.structured_mode == "auto" and not backend.failed_modes
    chat = conversation(openai_settings, backend)
    tokens: list[str] = []

    async def on_token(token: str) -> None:
        tokens.append(token)

    outcome = await chat.learner_says(LEARNER, on_token)

    assert outcome.error is None and outcome.patient_turn is not None
    assert backend.failed_modes == {"json_schema"}
    modes = [structured_mode_of(request_json(call.request)) for call in route.calls]
    assert modes == ["json_schema", "function_calling"]
    tool_request = request_json(route.calls.last.request)
    assert tool_request["tool_choice"] == {"type": "function", "function": {"name": "patient_turn"}}
    assert schema_shape(tool_request["tools"][0]["function"]["parameters"]) == schema_shape(
        strict_json_schema(PatientTurnOutput)
    )
    assert "JSON Schema" in tool_request["messages"][-1]["content"]  # the schema hint for non-json_schema modes
    assert outcome.patient_turn.text == RECORDED_TURN.reply == "".join(tokens)
    assert chat.session.turns[-1].hidden == RECORDED_TURN.hidden

    # The next turn goes straight to function calling: the refused mode is not asked again.
    second = await chat.learner_says("Je vous écoute.")
    assert second.patient_turn is not None
    modes = [structured_mode_of(request_json(call.request)) for call in route.calls]
    assert modes == ["json_schema", "function_calling", "function_calling"]


# --------------------------------------------------------------------------------------
# Retries and failures
# --------------------------------------------------------------------------------------


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(agent.llm.backends, "wait_exponential_jitter", lambda **_: wait_none())


@pytest.mark.usefixtures("no_backoff", "transport_only")
async def test_rate_limited_then_answered_is_retried_and_succeeds(
    openai_settings: Settings, api: respx.MockRouter
) -> None:
    answers = iter([error_response(429, "Rate limit reached", "requests", "rate_limit_exceeded"), PATIENT.response()])
    route = api.post(COMPLETIONS).mock(side_effect=lambda request: next(answers))
    backend = backend_for(openai_settings)
    chat = conversation(openai_settings, backend)

    outcome = await chat.learner_says(LEARNER)

    assert route.call_count == 2
    assert outcome.error is None and outcome.patient_turn is not None
    assert outcome.patient_turn.text == RECORDED_TURN.reply
    assert not backend.failed_modes  # a 429 says "later", not "unsupported mode"
    assert [structured_mode_of(request_json(c.request)) for c in route.calls] == ["json_schema", "json_schema"]


@pytest.mark.usefixtures("no_backoff")
async def test_rate_limit_that_persists_is_retried_a_bounded_number_of_times(
    openai_env: None, monkeypatch: pytest.MonkeyPatch, api: respx.MockRouter
) -> None:
    monkeypatch.setenv("ALLIANCE_MAX_RETRIES", "2")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    route = api.post(COMPLETIONS).mock(
        side_effect=lambda request: error_response(429, "Rate limit reached", "requests", "rate_limit_exceeded")
    )
    chat = conversation(settings, backend_for(settings))

    outcome = await chat.learner_says(LEARNER)

    assert route.call_count == 3  # one call and max_retries=2 retries
    assert outcome.patient_turn is None
    assert outcome.error == "Le modèle est surchargé ; réessayez dans un instant."
    assert [t.speaker for t in chat.session.turns] == [Speaker.clinician]  # the learner's words are kept


@pytest.mark.usefixtures("no_backoff")
async def test_unauthorized_is_not_retried_and_explained_without_the_key(
    openai_settings: Settings, api: respx.MockRouter
) -> None:
    route = api.post(COMPLETIONS).mock(
        side_effect=lambda request: error_response(401, UNAUTHORIZED, "invalid_request_error", "invalid_api_key")
    )
    backend = backend_for(openai_settings)
    chat = conversation(openai_settings, backend)

    outcome = await chat.learner_says(LEARNER)

    assert route.call_count == 1
    assert not backend.failed_modes  # a bad key is not a missing feature
    assert outcome.patient_turn is None
    assert outcome.error == "Le modèle refuse la clé d'API configurée."
    assert API_KEY not in outcome.error
    assert chat.session.failures and "AuthenticationError" in chat.session.failures[-1]
    # Raised directly, the engine gives the SDK's error, which describe_failure turns into words.
    with pytest.raises(openai.AuthenticationError) as caught:
        await chat.patient.respond(chat.session)
    assert route.call_count == 2
    assert describe_failure(caught.value, "en") == "The model rejected the configured API key."


# --------------------------------------------------------------------------------------
# Secrets
# --------------------------------------------------------------------------------------


def _formatted(record: logging.LogRecord) -> str:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    text = formatter.format(record)
    return text + repr(record.args) + repr(getattr(record, "__dict__", {}))


@pytest.mark.usefixtures("no_backoff")
async def test_api_key_never_reaches_a_log_record_nor_a_learner_message(
    openai_settings: Settings, api: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    attempts: dict[str, int] = {}

    def answer(request: httpx.Request) -> httpx.Response:
        # The patient: one 429 then the recording. The judge, and a later turn: 401.
        body = request_json(request)
        name = structured_name_of(body) or "?"
        attempts[name] = attempts.get(name, 0) + 1
        if name == "alliance_findings" or body["messages"][-1]["content"].endswith("Et ce matin ?"):
            return error_response(401, UNAUTHORIZED, "invalid_request_error", "invalid_api_key")
        if attempts[name] == 1:
            return error_response(429, "Rate limit reached", "requests", "rate_limit_exceeded")
        return PATIENT.response()

    route = api.post(COMPLETIONS).mock(side_effect=answer)
    backend = backend_for(openai_settings)
    evaluator = AllianceEvaluator(judge=Judge(backend, openai_settings))  # judge only: its failure is logged
    chat = conversation(openai_settings, backend, evaluator)
    unavailable: list[int] = []

    async def on_events(turn: int, events: Any) -> None:
        if events is None:
            unavailable.append(turn)

    outcome = await chat.learner_says(LEARNER, on_events=on_events)
    await chat.drain()
    refused = await conversation(openai_settings, backend).learner_says("Et ce matin ?")

    assert outcome.patient_turn is not None and unavailable  # the judge failed, the chat went on
    assert all(call.request.headers["authorization"] == f"Bearer {API_KEY}" for call in route.calls)
    logged = [_formatted(r) for r in caplog.records]
    assert any(r.name.startswith(("openai", "httpx")) for r in caplog.records), "no HTTP client log captured"
    assert any("evaluator failed" in line for line in logged)
    assert [line for line in logged if API_KEY in line] == []
    messages = [describe_failure(e, lang) for e in _sample_failures() for lang in ("fr", "en")]
    assert refused.error == "Le modèle refuse la clé d'API configurée."
    assert [m for m in [refused.error, *messages] if API_KEY in m] == []


def _sample_failures() -> list[BaseException]:
    request = httpx.Request("POST", f"{BASE_URL}{COMPLETIONS}", headers={"authorization": f"Bearer {API_KEY}"})
    body = {"error": {"message": f"bad key {API_KEY}"}}
    return [
        openai.AuthenticationError(f"key {API_KEY} refused", response=httpx.Response(401, request=request), body=body),
        openai.RateLimitError(f"slow down {API_KEY}", response=httpx.Response(429, request=request), body=body),
        openai.APITimeoutError(request=request),
        openai.APIConnectionError(message=f"cannot reach with {API_KEY}", request=request),
        openai.InternalServerError(f"boom {API_KEY}", response=httpx.Response(500, request=request), body=body),
        httpx.ConnectError(f"refused {API_KEY}", request=request),
        RuntimeError(f"unexpected {API_KEY}"),
    ]
