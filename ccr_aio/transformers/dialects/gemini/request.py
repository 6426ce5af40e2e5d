"""Unified request -> Gemini `GenerateContentRequest` (with [FIX]es),
shared by `gemini` and `vertex-gemini`.

Thought signatures: Gemini 3 rejects a replayed model turn whose function call lost the
`thoughtSignature` it came with. The response side hands a signature to the client either as the
signature of the thinking block it closed, tagged with its source (`shared/signatures.py`, `tag`:
`ccr_gemini::<sig>`), or, when no thinking block took it, with its tool call
(`shared/tool_signatures.py`: inside the tool_use id, back here as the call's `extra_content`).
`_model_parts` puts each back where Gemini wants it: a call's own signature on its functionCall;
the thinking block's on the first functionCall when that has none, else on the last text part.
Signatures without the gemini tag came from elsewhere (Anthropic, synthesized `ccr_…`) and would
be rejected as corrupt, so they are dropped; Gemini 3 function calls left without one get
Google's documented validator-skip sentinel instead.
"""

from __future__ import annotations

import mimetypes
import re
from typing import Any

from ....jsonutil import dumps
from ....shapes.unified import ToolCall, UnifiedMessage, UnifiedRequest
from ...shared.effort import at_least, capped_effort
from ...shared.json_args import parse_arguments
from ...shared.signatures import tag, untag
from ...shared.tool_signatures import signature_of
from .schema import function_parameters

SIGNATURE_SOURCE = "gemini"
SKIP_SIGNATURE = "skip_thought_signature_validator"
_GEMINI_VERSION = re.compile(r"gemini-(\d+)")
# Documented ranges of thinkingBudget.
_PRO_BUDGET = (128, 32768)
_OTHER_BUDGET = (0, 24576)
_EFFORT_BUDGET = {"low": 1024, "high": 24576}  # thinkingBudget for an effort without a budget
# Current Gemini models emit at most 65,536 tokens and Vertex rejects larger values (Claude Code
# asks for up to 128k); the `max_output_tokens` option changes the cap.
MAX_OUTPUT_TOKENS = 65536
_TOOL_MODES = {"auto": "AUTO", "none": "NONE", "required": "ANY", "any": "ANY"}


def mark_signature(signature: str) -> str:
    return tag(SIGNATURE_SOURCE, signature)


def gemini_signature(signature: Any) -> str | None:
    """The raw Gemini signature inside a client-held one, or None for foreign signatures."""
    untagged = untag(SIGNATURE_SOURCE, signature)
    return untagged[0] if untagged else None


def is_gemini3(model: str | None) -> bool:
    match = _GEMINI_VERSION.search(model or "")
    return match is not None and int(match.group(1)) >= 3


def build_request(
    request: UnifiedRequest,
    model: str,
    *,
    include_ids: bool = True,
    json_schema: bool = False,
    max_output_tokens: int | None = None,
) -> dict[str, Any]:
    """The Gemini body for a unified request. `include_ids` sends functionCall/functionResponse
    ids (AI Studio); `json_schema` sends tool schemas verbatim as `parametersJsonSchema`."""
    messages = [m for m in request.get("messages") or () if isinstance(m, dict)]
    results = {m.get("tool_call_id"): m for m in messages if m.get("role") == "tool"}
    gemini3 = is_gemini3(model)
    system: list[dict[str, Any]] = []
    contents: list[dict[str, Any]] = []
    leading = True
    for message in messages:
        role = message.get("role")
        if role == "tool":
            continue  # answered right after the model turn that called it
        if role == "system" and leading:
            system.extend(_user_parts(message.get("content")))
            continue
        leading = False
        if role == "assistant":
            parts = _model_parts(message, gemini3, include_ids)
            if parts:
                contents.append({"role": "model", "parts": parts})
            calls = [c for c in message.get("tool_calls") or () if isinstance(c, dict)]
            if calls:
                responses = [_function_response(c, results.get(c.get("id")), include_ids) for c in calls]
                contents.append({"role": "user", "parts": responses})
        else:  # user, and system turns after the conversation started (kept in place)
            parts = _user_parts(message.get("content"))
            if parts:
                contents.append({"role": "user", "parts": parts})

    body: dict[str, Any] = {"contents": contents}
    if system:
        body["systemInstruction"] = {"parts": system}
    tools = _tools(request.get("tools"), json_schema)
    if tools:
        body["tools"] = tools
    tool_config = _tool_config(request.get("tool_choice"))
    if tool_config:
        body["toolConfig"] = tool_config
    body["generationConfig"] = _generation_config(request, model, max_output_tokens or MAX_OUTPUT_TOKENS)
    return body


# -- contents --------------------------------------------------------------------------------


def _user_parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}] if content else []
    if isinstance(content, dict):
        content = [content]
    if not isinstance(content, list):
        return []
    parts: list[dict[str, Any]] = []
    for item in content:
        part = _content_part(item)
        if part is not None:
            parts.append(part)
    return parts


def _content_part(item: Any) -> dict[str, Any] | None:
    """One unified content part -> a Gemini part; empty text and unknown kinds are skipped
    (Vertex rejects empty text, the reference sent null)."""
    if isinstance(item, str):
        return {"text": item} if item else None
    if not isinstance(item, dict):
        return None
    kind = item.get("type")
    if kind == "text" or (kind is None and "text" in item):
        text = item.get("text")
        return {"text": text} if isinstance(text, str) and text else None
    if kind == "image_url":
        image = item.get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
        return _media_part(url, item.get("media_type")) if isinstance(url, str) else None
    if kind == "file":
        file = item.get("file")
        data = file.get("file_data") if isinstance(file, dict) else None
        return _media_part(data, None) if isinstance(data, str) else None
    return None


def _media_part(url: str, media_type: Any) -> dict[str, Any] | None:
    if url.startswith("data:"):
        header, _, data = url.partition(",")
        mime = media_type or header[5:].split(";", 1)[0] or "application/octet-stream"
        return {"inlineData": {"mimeType": mime, "data": data}}
    if url.startswith(("http://", "https://", "gs://")):
        mime = media_type or mimetypes.guess_type(url.split("?", 1)[0])[0] or "image/jpeg"
        return {"fileData": {"mimeType": mime, "fileUri": url}}
    return None


def _model_parts(message: UnifiedMessage, gemini3: bool, include_ids: bool) -> list[dict[str, Any]]:
    parts = _user_parts(message.get("content"))
    parts = [p for p in parts if "text" in p]  # a model turn holds no media
    thinking = message.get("thinking")
    signature = gemini_signature(thinking.get("signature")) if isinstance(thinking, dict) else None
    calls: list[dict[str, Any]] = []
    for call in message.get("tool_calls") or ():
        if not isinstance(call, dict):
            continue
        function = call.get("function") or {}
        args = parse_arguments(function.get("arguments"))
        function_call: dict[str, Any] = {"name": function.get("name") or "", "args": args if args is not None else {}}
        if include_ids and call.get("id"):
            function_call = {"id": call["id"], **function_call}
        part: dict[str, Any] = {"functionCall": function_call}
        own = signature_of(call)
        if own:
            part["thoughtSignature"] = own
        calls.append(part)
    if calls and "thoughtSignature" not in calls[0] and (signature or gemini3):
        # The step's signature belongs to its first function call (parallel calls carry one).
        calls[0] = {**calls[0], "thoughtSignature": signature or SKIP_SIGNATURE}
    elif signature and parts:
        parts[-1] = {**parts[-1], "thoughtSignature": signature}
    return parts + calls


def _function_response(call: ToolCall, result: UnifiedMessage | None, include_ids: bool) -> dict[str, Any]:
    response: dict[str, Any] = {"name": (call.get("function") or {}).get("name") or ""}
    if include_ids and call.get("id"):
        response["id"] = call["id"]
    response["response"] = {"result": _result_text(result.get("content"))} if result is not None else {}
    return {"functionResponse": response}


def _result_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return "" if content is None else dumps(content)


# -- tools and config ------------------------------------------------------------------------


def _is_web_search(tool: dict[str, Any], function: dict[str, Any]) -> bool:
    server = tool.get("server_tool_type")
    return function.get("name") == "web_search" or (isinstance(server, str) and server.startswith("web_search"))


def _tools(tools: Any, json_schema: bool) -> list[dict[str, Any]]:
    declarations: list[dict[str, Any]] = []
    search = False
    for tool in tools or ():
        if not isinstance(tool, dict) or not isinstance(tool.get("function"), dict):
            continue
        function = tool["function"]
        if _is_web_search(tool, function):
            search = True
            continue
        declaration: dict[str, Any] = {"name": function.get("name") or ""}
        if function.get("description"):
            declaration["description"] = function["description"]
        schema = function.get("parameters")
        if json_schema and isinstance(schema, dict):
            declaration["parametersJsonSchema"] = {k: v for k, v in schema.items() if k != "$schema"}
        else:
            parameters = function_parameters(schema)
            if parameters is not None:
                declaration["parameters"] = parameters
        declarations.append(declaration)
    result: list[dict[str, Any]] = []
    if declarations:
        result.append({"functionDeclarations": declarations})
    if search:
        result.append({"googleSearch": {}})
    return result


def _tool_config(choice: Any) -> dict[str, Any] | None:
    if isinstance(choice, str):
        mode = _TOOL_MODES.get(choice)
        return {"functionCallingConfig": {"mode": mode}} if mode else None
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name") if isinstance(choice.get("function"), dict) else None
        if name:
            return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [name]}}
    return None


def _generation_config(request: UnifiedRequest, model: str, cap: int) -> dict[str, Any]:
    config: dict[str, Any] = {}
    max_tokens = request.get("max_tokens") or request.get("max_completion_tokens")
    if isinstance(max_tokens, int) and not isinstance(max_tokens, bool) and max_tokens > 0:
        config["maxOutputTokens"] = min(max_tokens, cap)
    for source, target in (("temperature", "temperature"), ("top_p", "topP"), ("top_k", "topK")):
        value = request.get(source)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            config[target] = value
    stop = request.get("stop")
    if isinstance(stop, str) and stop:
        config["stopSequences"] = [stop]
    elif isinstance(stop, list) and stop:
        config["stopSequences"] = [s for s in stop if isinstance(s, str)]
    thinking = _thinking_config(request.get("reasoning"), model)
    if thinking:
        config["thinkingConfig"] = thinking
    return config


def _thinking_config(reasoning: Any, model: str) -> dict[str, Any] | None:
    if not isinstance(reasoning, dict) or reasoning.get("enabled") is False:
        return None
    effort = reasoning.get("effort")
    if not effort or effort == "none":
        return None
    config: dict[str, Any] = {"includeThoughts": True}
    lowered = model.lower()
    if is_gemini3(lowered):
        # Gemini 3 Pro knows only low/high; the Flash models also take minimal/medium.
        level = capped_effort(effort) or effort
        config["thinkingLevel"] = "high" if level == "medium" and "pro" in lowered else level
        return config
    low, high = _PRO_BUDGET if "pro" in lowered else _OTHER_BUDGET
    budget = reasoning.get("max_tokens")
    if not isinstance(budget, int) or isinstance(budget, bool):
        # medium: the model's own dynamic budget; xhigh and max: the most it takes.
        budget = high if at_least(effort, "xhigh") else _EFFORT_BUDGET.get(effort)
    if budget is not None:
        config["thinkingBudget"] = min(max(budget, low), high)
    return config
