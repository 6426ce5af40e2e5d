"""What a recorded provider answer says, read straight from its bytes, independently of ccr-aio.

`expected(case, body)` reads one replay case (tests/data/replays/manifest.json) the way each
provider documents its wire format and returns an `Expected`: the answer text, the visible
reasoning, the tool calls with their arguments, the Anthropic stop reason and usage it amounts
to, or the error it reports. The replay test compares what the Anthropic client got with it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# Finish reasons of the OpenAI-chat family and Gemini, as Anthropic stop reasons.
_OPENAI_STOPS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "function_call": "tool_use"}
_GEMINI_STOPS = {"STOP": "end_turn", "MAX_TOKENS": "max_tokens"}
# OpenAI error types whose HTTP status is documented.
_TYPE_STATUS = {"invalid_request_error": 400, "insufficient_quota": 429, "rate_limit_exceeded": 429}


@dataclass
class Expected:
    text: str = ""
    thinking: str = ""  # visible reasoning only: encrypted reasoning shows nothing
    tools: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    stop_reason: str | None = None
    usage: dict[str, int] = field(default_factory=dict)  # input, output and cache-read tokens
    error_status: int | None = None  # set when the provider reported an error
    error_message: str = ""
    signed_calls: dict[int, str] = field(default_factory=dict)  # Gemini: tool index -> thoughtSignature


def payloads(case: dict[str, Any], body: bytes) -> list[tuple[str | None, Any]]:
    """(event name, JSON) per event of a served SSE stream, or one (None, JSON) for a JSON body."""
    text = body.decode("utf-8")
    if case["kind"] != "stream":
        return [(None, json.loads(text))]
    events: list[tuple[str | None, Any]] = []
    name: str | None = None
    for line in text.replace("\r\n", "\n").split("\n"):
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data = line[5:].strip()
            if data and data != "[DONE]":
                events.append((name, json.loads(data)))
        elif not line.strip():
            name = None
    return events


def expected(case: dict[str, Any], body: bytes) -> Expected:
    events = payloads(case, body)
    if case["status"] >= 400:
        return _http_error(case["status"], events[0][1])
    if case["dialect"] == "gemini":
        return _gemini(events)
    if case["dialect"] == "responses":
        return _responses(events, case["kind"] == "stream")
    return _openai_family(events, case["kind"] == "stream")


def _http_error(status: int, body: Any) -> Expected:
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    return Expected(error_status=status, error_message=message or json.dumps(body))


def _stream_error(error: Any) -> Expected:
    code, kind = error.get("code"), error.get("type")
    status = code if isinstance(code, int) and 400 <= code < 600 else _TYPE_STATUS.get(kind) or _TYPE_STATUS.get(code)
    return Expected(error_status=status, error_message=error.get("message") or "")


def _tool_args(text: str) -> dict[str, Any]:
    return json.loads(text) if text.strip() else {}


# -- OpenAI chat completions and the providers that speak it ---------------------------------


def _reasoning_text(part: dict[str, Any]) -> str:
    for key in ("reasoning_content", "reasoning"):
        if isinstance(part.get(key), str):
            return part[key]
    details = part.get("reasoning_details") or ()
    return "".join(d.get("text") or "" for d in details if d.get("type") == "reasoning.text")


def _openai_usage(usage: dict[str, Any]) -> dict[str, int]:
    prompt, completion = usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or usage.get("prompt_cache_hit_tokens") or 0
    reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0
    if reasoning and usage.get("total_tokens") == prompt + completion + reasoning:
        completion += reasoning  # xAI counts reasoning apart from completion_tokens
    return {"input_tokens": prompt - cached, "output_tokens": completion, "cache_read_input_tokens": cached}


def _openai_family(events: list[tuple[str | None, Any]], stream: bool) -> Expected:
    out = Expected()
    if not stream:
        choice = events[0][1]["choices"][0]
        message = choice["message"]
        out.text, out.thinking = message.get("content") or "", _reasoning_text(message)
        out.tools = [(c["function"]["name"], _tool_args(c["function"]["arguments"])) for c in message.get("tool_calls") or ()]
        finish, usage = choice.get("finish_reason"), events[0][1].get("usage")
    else:
        finish, usage = None, None
        calls: dict[Any, list[str]] = {}
        for name, chunk in events:
            if name == "error" or chunk.get("error"):
                return _stream_error(chunk["error"])
            usage = chunk.get("usage") or (chunk.get("x_groq") or {}).get("usage") or usage
            for choice in chunk.get("choices") or ():
                delta = choice.get("delta") or {}
                out.text += delta.get("content") or ""
                out.thinking += _reasoning_text(delta)
                for n, call in enumerate(delta.get("tool_calls") or ()):
                    key = call.get("index", n)
                    entry = calls.setdefault(key, ["", ""])
                    function = call.get("function") or {}
                    entry[0] = entry[0] or function.get("name") or ""
                    entry[1] += function.get("arguments") or ""
                finish = choice.get("finish_reason") or finish
        out.tools = [(name, _tool_args(args)) for name, args in calls.values()]
    out.stop_reason = _OPENAI_STOPS[finish]
    if out.tools and out.stop_reason == "end_turn":
        out.stop_reason = "tool_use"
    out.usage = _openai_usage(usage or {})
    return out


# -- Gemini generateContent ------------------------------------------------------------------


def _gemini(events: list[tuple[str | None, Any]]) -> Expected:
    out = Expected()
    finish, meta = None, {}
    for _, chunk in events:
        if chunk.get("error"):
            return _stream_error(chunk["error"])
        meta = chunk.get("usageMetadata") or meta
        for candidate in (chunk.get("candidates") or [])[:1]:
            for part in (candidate.get("content") or {}).get("parts") or ():
                if part.get("thought"):
                    out.thinking += part.get("text") or ""
                elif "functionCall" in part:
                    if part.get("thoughtSignature"):
                        out.signed_calls[len(out.tools)] = part["thoughtSignature"]
                    call = part["functionCall"]
                    out.tools.append((call["name"], call.get("args") or {}))
                else:
                    out.text += part.get("text") or ""
            finish = candidate.get("finishReason") or finish
    out.stop_reason = _GEMINI_STOPS[finish]
    if out.tools and out.stop_reason == "end_turn":
        out.stop_reason = "tool_use"
    cached = meta.get("cachedContentTokenCount") or 0
    output = (meta.get("candidatesTokenCount") or 0) + (meta.get("thoughtsTokenCount") or 0)
    out.usage = {"input_tokens": meta["promptTokenCount"] - cached, "output_tokens": output, "cache_read_input_tokens": cached}
    return out


# -- OpenAI Responses ------------------------------------------------------------------------


def _responses_output(response: dict[str, Any], out: Expected) -> None:
    """Text, summaries and calls of a finished response (a JSON body)."""
    summaries = []
    for item in response.get("output") or ():
        if item["type"] == "reasoning":
            summaries += [s["text"] for s in item.get("summary") or ()]
        elif item["type"] == "message":
            out.text += "".join(c.get("text") or "" for c in item["content"] if c["type"] == "output_text")
        elif item["type"] == "function_call":
            out.tools.append((item["name"], _tool_args(item.get("arguments") or "")))
    out.thinking = "\n\n".join(summaries)


def _responses(events: list[tuple[str | None, Any]], stream: bool) -> Expected:
    out = Expected()
    if not stream:
        response = events[0][1]
        _responses_output(response, out)
    else:
        response = {}
        summaries: dict[tuple[str, int], str] = {}
        calls: dict[str, list[str]] = {}
        for _, event in events:
            kind = event["type"]
            if kind == "error":
                return _stream_error(event.get("error") or event)
            if kind == "response.output_text.delta":
                out.text += event["delta"]
            elif kind == "response.reasoning_summary_text.delta":
                key = (event["item_id"], event["summary_index"])
                summaries[key] = summaries.get(key, "") + event["delta"]
            elif kind == "response.output_item.added" and event["item"]["type"] == "function_call":
                calls[event["item"]["id"]] = [event["item"]["name"], ""]
            elif kind == "response.function_call_arguments.delta":
                calls[event["item_id"]][1] += event["delta"]
            elif kind in ("response.completed", "response.incomplete"):
                response = event["response"]
        out.thinking = "\n\n".join(summaries.values())
        out.tools = [(name, _tool_args(args)) for name, args in calls.values()]
    incomplete = (response.get("incomplete_details") or {}).get("reason")
    out.stop_reason = "max_tokens" if incomplete == "max_output_tokens" else "tool_use" if out.tools else "end_turn"
    usage = response.get("usage") or {}
    cached = (usage.get("input_tokens_details") or {}).get("cached_tokens") or 0
    out.usage = {
        "input_tokens": (usage.get("input_tokens") or 0) - cached,
        "output_tokens": usage.get("output_tokens") or 0,
        "cache_read_input_tokens": cached,
    }
    return out
