"""A stub OpenAI-compatible server for tests, benchmarks and fault drills: loopback only.

It answers `POST /v1/chat/completions` (streamed or not) with completions generated from
the JSON schema the caller asks for (`response_format` json_schema, a forced tool, or a
schema hint in JSON mode), so the patient and the judge get well-formed answers in the
persona's language. Latency is configurable per schema name (`patient_turn`, `alliance_findings`),
and faults are injected at given rates: 429, 500, a hang past the client's timeout, a
stream cut mid-answer, malformed JSON. The app points at it exactly as at a real endpoint:

    python -m agent.devtools.stub_llm --port 8300 --latency patient_turn=2 --latency alliance_findings=1
    OPENAI_BASE_URL=http://127.0.0.1:8300/v1 OPENAI_API_KEY=stub make run

`POST /stub/config` changes the configuration of a running server (to make an endpoint
fail, then recover); `GET /stub/stats` counts requests and injected faults.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import re
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from agent.domain.language import guess_language

Fault = Literal["429", "500", "timeout", "truncate", "malformed"]
FAULTS: tuple[Fault, ...] = ("429", "500", "timeout", "truncate", "malformed")
LOOPBACK = "127.0.0.1"

_SCHEMA_HINT = re.compile(r"matching this JSON Schema:\s*(\{.*\})\s*$", re.S)

_TEXT: dict[str, dict[str, list[str]]] = {
    "reply": {
        "en": [
            "I hear you. It's been a hard few weeks, honestly.",
            "Okay. I'm not sure what you want me to say to that.",
            "That helps, actually. Can you tell me more about what happens next?",
        ],
        "fr": [
            "Je vous entends. Ça a été des semaines difficiles, honnêtement.",
            "Correct. Je sais pas trop quoi vous répondre à ça.",
            "Ça m'aide, en fait. Pouvez-vous m'en dire plus sur la suite ?",
        ],
    },
    "inner_monologue": {
        "en": ["I wonder whether they are really listening to me."],
        "fr": ["Je me demande s'il m'écoute vraiment."],
    },
}
_DEFAULT_TEXT = {"en": "A short answer.", "fr": "Une réponse courte."}


class StubConfig(BaseModel):
    """What the stub does; every field can be changed on a running server."""

    model_config = ConfigDict(extra="forbid")

    latency_s: float = Field(0.0, ge=0, description="Total time of an answer, spread over its chunks.")
    latency_by_name: dict[str, float] = Field(
        default_factory=dict, description="Latency per schema name (patient_turn, alliance_findings)."
    )
    chunk_chars: int = Field(12, ge=1, description="Characters per streamed chunk.")
    fault_rates: dict[Fault, float] = Field(default_factory=dict, description="Probability of each fault.")
    hang_s: float = Field(300.0, ge=0, description="How long a 'timeout' fault hangs before answering.")
    leak_rate: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Share of patient replies that leak: they repeat the hidden monologue or the persona's "
        "secret pre-visit thoughts word for word (to prove the app's guard, as a careless model would).",
    )
    seed: int = 0


class Stub:
    def __init__(self, config: StubConfig | None = None):
        self.config = config or StubConfig()
        self.random = random.Random(self.config.seed)
        self.stats: Counter[str] = Counter()

    def configure(self, config: StubConfig) -> None:
        self.config = config
        self.random = random.Random(config.seed)

    def pick_fault(self) -> Fault | None:
        draw = self.random.random()
        edge = 0.0
        for fault in FAULTS:
            edge += self.config.fault_rates.get(fault, 0.0)
            if draw < edge:
                return fault
        return None


# --------------------------------------------------------------------------- content


def _schema_and_name(body: dict[str, Any]) -> tuple[dict[str, Any] | None, str, str]:
    """The schema asked for, its name, and the mode: json_schema, tool, json_mode or text."""
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        spec = fmt.get("json_schema") or {}
        return spec.get("schema"), str(spec.get("name", "")), "json_schema"
    tools = body.get("tools") or []
    if tools:
        function = tools[0].get("function") or {}
        return function.get("parameters"), str(function.get("name", "")), "tool"
    if fmt.get("type") == "json_object":
        for message in reversed(body.get("messages") or []):
            match = _SCHEMA_HINT.search(str(message.get("content") or ""))
            if match:
                schema = json.loads(match.group(1))
                return schema, str(schema.get("title", "")), "json_mode"
        return None, "", "json_mode"
    return None, "", "text"


def _language(body: dict[str, Any]) -> str:
    system = " ".join(str(m.get("content") or "") for m in body.get("messages") or [] if m.get("role") == "system")
    return guess_language(system[:4000])


class _Generator:
    """A schema-valid instance, with plausible text for the fields the app reads."""

    def __init__(self, root: dict[str, Any], lang: str, salt: int):
        self.root = root
        self.lang = lang
        self.salt = salt

    def _resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            target: Any = self.root
            for part in ref[2:].split("/"):
                target = target[part]
            return self._resolve(target)
        if "anyOf" in node:
            options = [o for o in node["anyOf"] if o.get("type") != "null"] or node["anyOf"]
            return self._resolve(options[0])
        if "allOf" in node and len(node["allOf"]) == 1:
            return self._resolve(node["allOf"][0])
        return node

    def make(self, node: dict[str, Any], key: str = "") -> Any:
        node = self._resolve(node)
        if "enum" in node:
            values = node["enum"]
            return values[self.salt % len(values)] if key != "intended_move" else values[0]
        kind = node.get("type")
        if kind == "object":
            return {name: self.make(sub, name) for name, sub in (node.get("properties") or {}).items()}
        if kind == "array":
            count = max(int(node.get("minItems", 0)), 1 if key == "emotions" else 0)
            return [self.make(node.get("items") or {}, key) for _ in range(count)]
        if kind == "integer":
            low, high = int(node.get("minimum", 0)), int(node.get("maximum", 10))
            return (low + high) // 2
        if kind == "number":
            return float(node.get("minimum", 0.5))
        if kind == "boolean":
            return False
        if kind == "null":
            return None
        texts = _TEXT.get(key, {})
        options = texts.get(self.lang) or [_DEFAULT_TEXT.get(self.lang, _DEFAULT_TEXT["en"])]
        return options[self.salt % len(options)]


_SECRET = re.compile(r"\(secret\)\s*\n(.+?)(?:\n\s*\n|\n#)", re.S)


def _leak(data: Any, body: dict[str, Any], salt: int) -> None:
    """Make the reply repeat a hidden text: this turn's monologue, or the persona's secret thoughts."""
    if not isinstance(data, dict) or not isinstance(data.get("reply"), str):
        return
    secret = ""
    if salt % 2:
        system = " ".join(str(m.get("content") or "") for m in body.get("messages") or [] if m.get("role") == "system")
        found = _SECRET.search(system)
        secret = " ".join(found.group(1).split()[:14]) if found else ""
    hidden = data.get("hidden")
    secret = secret or (str(hidden.get("inner_monologue", "")) if isinstance(hidden, dict) else "")
    data["reply"] = f"{secret} {data['reply']}"


_TURN_LINE = re.compile(r"^\[(clinician|patient)\] (.+)$", re.M)


def _judge_findings(data: Any, body: dict[str, Any]) -> None:
    """A judge answer (a `findings` list): one repair attempt quoting the clinician's last turn, if it was theirs."""
    if not isinstance(data, dict) or not isinstance(data.get("findings"), list):
        return
    user = next((str(m.get("content")) for m in reversed(body.get("messages") or []) if m.get("role") == "user"), "")
    turns = _TURN_LINE.findall(user)
    if not turns or turns[-1][0] != "clinician":
        return
    data["findings"] = [
        {
            "kind": "repair_attempt",
            "rupture": None,
            "function": "exploratory",
            "principle": "metacommunication",
            "subtype": None,
            "evidence": turns[-1][1].strip(),
            "confidence": 0.8,
            "rationale": "stub judge",
        }
    ]


def completion_text(body: dict[str, Any], leak: bool = False) -> tuple[str, str, str]:
    """The answer text (JSON when a schema is asked for), the schema name and the mode."""
    schema, name, mode = _schema_and_name(body)
    last_user = next(
        (str(m.get("content")) for m in reversed(body.get("messages") or []) if m.get("role") == "user"), ""
    )
    salt = int(hashlib.sha256(last_user.encode()).hexdigest()[:8], 16)
    lang = _language(body)
    if schema is None:
        text = json.dumps({"answer": _DEFAULT_TEXT[lang]}) if mode == "json_mode" else _TEXT["reply"][lang][salt % 3]
        return text, name, mode
    data = _Generator(schema, lang, salt).make(schema)
    _judge_findings(data, body)
    if leak:
        _leak(data, body, salt)
    return json.dumps(data, ensure_ascii=False), name, mode


# --------------------------------------------------------------------------- HTTP


def _error(status: int, message: str, kind: str) -> JSONResponse:
    headers = {"retry-after": "0"} if status == 429 else None
    return JSONResponse({"error": {"message": message, "type": kind, "code": None}}, status, headers=headers)


def _chunk(cid: str, model: str, delta: dict[str, Any], finish: str | None = None) -> bytes:
    payload = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n".encode()


def _usage(body: dict[str, Any], text: str) -> dict[str, int]:
    prompt = sum(len(str(m.get("content") or "")) for m in body.get("messages") or []) // 4
    completion = max(1, len(text) // 4)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def build_app(stub: Stub) -> Starlette:
    async def completions(request: Request) -> Response:
        body = await request.json()
        stub.stats["requests"] += 1
        fault = stub.pick_fault()
        if fault:
            stub.stats[f"fault_{fault}"] += 1
        if fault == "429":
            return _error(429, "Rate limit reached (stub).", "rate_limit_exceeded")
        if fault == "500":
            return _error(500, "Internal error (stub).", "server_error")
        if fault == "timeout":
            await asyncio.sleep(stub.config.hang_s)
        leak = stub.random.random() < stub.config.leak_rate
        text, name, mode = completion_text(body, leak)
        if leak and '"reply"' in text:
            stub.stats["leaks"] += 1
        if fault == "malformed":
            text = text[: len(text) // 2] + ' "not json'
        latency = stub.config.latency_by_name.get(name, stub.config.latency_s)
        model = str(body.get("model", "stub"))
        cid = f"chatcmpl-{uuid.uuid4().hex[:12]}"
        tool_id = f"call_{uuid.uuid4().hex[:8]}"
        if not body.get("stream"):
            await asyncio.sleep(latency)
            message: dict[str, Any] = {"role": "assistant", "content": text}
            if mode == "tool":
                message = {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [{"id": tool_id, "type": "function", "function": {"name": name, "arguments": text}}],
                }
            return JSONResponse(
                {
                    "id": cid,
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": model,
                    "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                    "usage": _usage(body, text),
                }
            )

        size = stub.config.chunk_chars
        pieces = [text[i : i + size] for i in range(0, len(text), size)] or [""]
        cut = len(pieces) // 2 if fault == "truncate" else None
        pause = latency / max(1, len(pieces))
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

        async def events() -> AsyncIterator[bytes]:
            yield _chunk(cid, model, {"role": "assistant", "content": ""})
            for index, piece in enumerate(pieces):
                if cut is not None and index == cut:
                    return  # the connection ends mid-answer: no finish, no [DONE]
                if pause:
                    await asyncio.sleep(pause)
                if mode == "tool":
                    call: dict[str, Any] = {"index": 0, "function": {"arguments": piece}}
                    if index == 0:
                        call.update({"id": tool_id, "type": "function", "function": {"name": name, "arguments": piece}})
                    yield _chunk(cid, model, {"tool_calls": [call]})
                else:
                    yield _chunk(cid, model, {"content": piece})
            yield _chunk(cid, model, {}, "tool_calls" if mode == "tool" else "stop")
            if include_usage:
                usage: dict[str, Any] = {"id": cid, "object": "chat.completion.chunk", "model": model, "choices": []}
                usage["usage"] = _usage(body, text)
                yield f"data: {json.dumps(usage)}\n\n".encode()
            yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    async def models(_: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": "stub", "object": "model", "owned_by": "alliance"}]})

    async def get_config(_: Request) -> Response:
        return JSONResponse(stub.config.model_dump())

    async def set_config(request: Request) -> Response:
        stub.configure(StubConfig.model_validate(await request.json()))
        return JSONResponse(stub.config.model_dump())

    async def stats(_: Request) -> Response:
        return JSONResponse(dict(stub.stats))

    return Starlette(
        routes=[
            Route("/v1/chat/completions", completions, methods=["POST"]),
            Route("/v1/models", models, methods=["GET"]),
            Route("/stub/config", get_config, methods=["GET"]),
            Route("/stub/config", set_config, methods=["POST"]),
            Route("/stub/stats", stats, methods=["GET"]),
        ]
    )


def _pairs(values: list[str], kind: type[float]) -> dict[str, float]:
    out: dict[str, float] = {}
    for value in values:
        name, _, number = value.partition("=")
        out[name] = kind(number)
    return out


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m agent.devtools.stub_llm", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8300)
    parser.add_argument("--latency", action="append", default=[], help="NAME=SECONDS or SECONDS for all answers")
    parser.add_argument("--fault", action="append", default=[], help="FAULT=RATE, FAULT in " + ", ".join(FAULTS))
    parser.add_argument("--hang-s", type=float, default=300.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--leak-rate", type=float, default=0.0, help="share of replies that repeat hidden text")
    args = parser.parse_args(argv)
    plain = [v for v in args.latency if "=" not in v]
    config = StubConfig(
        latency_s=float(plain[-1]) if plain else 0.0,
        latency_by_name=_pairs([v for v in args.latency if "=" in v], float),
        fault_rates=_pairs(args.fault, float),  # type: ignore[arg-type]
        hang_s=args.hang_s,
        seed=args.seed,
        leak_rate=args.leak_rate,
    )
    uvicorn.run(build_app(Stub(config)), host=LOOPBACK, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
