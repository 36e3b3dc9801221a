"""The bare Chainlit echo app: the framework alone, the baseline our app is measured against.

No LLM, no evaluator, no data layer: it streams the learner's words back in 20 tokens.
`chainlit run agent/devtools/bench_echo.py --headless --host 127.0.0.1 --port N`
"""

from __future__ import annotations

import chainlit as cl

TOKENS = 20


@cl.on_message
async def echo(message: cl.Message) -> None:
    reply = cl.Message(content="", author="echo")
    words = (message.content.split() or ["…"]) * TOKENS
    for word in words[:TOKENS]:
        await reply.stream_token(word + " ")
    await reply.send()
