"""Example CUSTOM_ROUTER_PATH module for ccr-aio.

`router` gets the parsed Anthropic request body, the config (with $VARS resolved) and a context
with `token_count` (None when no rule needed a count), `session_id`, `project` and `scenario`
(what the built-in rules would choose). Return "provider,model" to decide, or None to keep the
built-in choice. It may be a plain function or `async def`.
"""


async def router(request: dict, config: dict, context: dict) -> str | None:
    # Plan-mode style requests with a big context go to a reasoning model.
    if context["scenario"] == "think" and (context["token_count"] or 0) > 30_000:
        return "deepseek,deepseek-reasoner"
    # Everything from one project goes to a local model.
    if context["project"] == "-home-me-secret-project":
        return "ollama,qwen2.5-coder:latest"
    return None
