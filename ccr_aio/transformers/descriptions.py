"""One line per built-in transformer, for the UI's Transformers tab (GET /api/transformers)."""

from __future__ import annotations

DESCRIPTIONS: dict[str, str] = {
    "anthropic": "Passes Anthropic Messages requests through to an Anthropic-format endpoint.",
    "cerebras": "Adapts requests to Cerebras' OpenAI-compatible API (drops fields it rejects).",
    "cleancache": "Removes Anthropic cache_control markers before the request leaves.",
    "customparams": "Adds the parameters given as options to every request body.",
    "deepseek": "DeepSeek chat API: caps max_tokens and turns reasoning_content into thinking blocks.",
    "enhancetool": "Repairs tool-call arguments that are not valid JSON in the provider's answer.",
    "extrathinktag": "Turns <think>…</think> text in answers into thinking blocks.",
    "forcereasoning": "Asks the model to reason before answering, even when the client did not.",
    "gemini": "Google Gemini API (generateContent): converts requests, answers and streams.",
    "groq": "Adapts requests to Groq's OpenAI-compatible API (drops fields it rejects).",
    "maxcompletiontokens": "Sends max_tokens as max_completion_tokens (newer OpenAI models).",
    "maxtoken": "Caps max_tokens at the value of the `max_tokens` option.",
    "openai": "OpenAI Chat Completions format (the default conversion for most providers).",
    "openai-responses": "OpenAI Responses API (/v1/responses): converts requests, answers and streams.",
    "openrouter": "OpenRouter: reasoning, provider routing options and its error shapes.",
    "reasoning": "Maps Claude's thinking settings to the provider's reasoning / reasoning_content.",
    "sampling": "Sets or removes sampling parameters (temperature, top_p, top_k...).",
    "streamoptions": "Asks for usage in streams (stream_options.include_usage).",
    "tooluse": "Makes the model call tools reliably (tool_choice required plus an exit tool).",
    "vercel": "Vercel AI Gateway: its reasoning and usage fields.",
    "vertex-claude": "Claude on Google Vertex AI (rawPredict with a service-account token).",
    "vertex-gemini": "Gemini on Google Vertex AI (generateContent with a service-account token).",
    "vertex-openai": "Vertex AI's OpenAI-compatible endpoint (with a service-account token).",
}


def describe_transformer(name: str, doc: str | None) -> str:
    """The built-in's line, else the first line of the class docstring (plugins), else ""."""
    return DESCRIPTIONS.get(name.lower()) or (doc or "").strip().split("\n", 1)[0].strip()
