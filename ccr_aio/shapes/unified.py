"""The unified shape: OpenAI chat completions (request, answer, stream chunk) with the
extensions described in docs/architecture.md (`reasoning`, `thinking`, `server_tool_type`,
`annotations`, image `media_type`, Anthropic `cache_control` markers).

Every key is optional: the endpoint builds these from a client's request, and for an
OpenAI-format provider they are the provider's own JSON, read defensively. Keys of OpenAI chat
that the code reads or writes are listed even when they are not part of the conversion
(`max_completion_tokens`, `stream_options`).

A body or chunk in a provider's own format (before its dialect converts it, or after a dialect
converted the request) has no shape here: it is a `ProviderBody` / `ProviderChunk`, a JSON
object read with `.get`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypedDict

from .anthropic import CacheControl

ProviderBody = Mapping[str, Any]  # a JSON object in a provider's own format
ProviderChunk = Mapping[str, Any]  # one parsed `data:` event of a provider's stream

# OpenAI's levels, and Claude Code's `output_config.effort` above high (xhigh, max).
Effort = Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"]


class ImageUrl(TypedDict, total=False):
    url: str
    detail: str
    b64_json: str  # an image a Responses answer generated, beside its data URL


class FileData(TypedDict, total=False):
    filename: str
    file_data: str  # a data URL


class ContentPart(TypedDict, total=False):
    """One part of a message's content; which keys are set depends on `type`
    ("text", "image_url" or "file")."""

    type: str
    text: str
    image_url: ImageUrl
    media_type: str  # extension: an image's media type, for dialects that send it apart
    file: FileData
    cache_control: CacheControl


class FunctionCall(TypedDict, total=False):
    name: str
    arguments: str  # JSON text; in a stream, a fragment of it


class ToolCall(TypedDict, total=False):
    """A tool call of an assistant message, or one fragment of it in a stream delta (where
    `index` says which call it continues)."""

    index: int
    id: str
    type: Literal["function"]
    function: FunctionCall
    # Google's OpenAI-compatible extension: `{"google": {"thought_signature": ...}}`, the
    # Gemini thought signature of this call (transformers/shared/tool_signatures.py).
    extra_content: dict[str, Any]


class Thinking(TypedDict, total=False):
    """Extension: a thinking block. In a stream, deltas carry `content`, and exactly one delta
    with `signature` closes the block."""

    content: str
    signature: str


class UrlCitation(TypedDict, total=False):
    url: str
    title: str
    content: str
    start_index: int | None
    end_index: int | None


class Annotation(TypedDict, total=False):
    type: Literal["url_citation"]
    url_citation: UrlCitation
    url: str  # some providers put the citation's fields on the annotation itself
    title: str


class UnifiedMessage(TypedDict, total=False):
    role: str  # "system" | "user" | "assistant" | "tool"
    content: str | list[ContentPart] | None
    tool_calls: list[ToolCall]
    tool_call_id: str  # role "tool": the call this answers
    thinking: Thinking  # extension, assistant turns
    annotations: list[Annotation]  # extension, answers only
    cache_control: CacheControl  # extension, on tool messages


class FunctionSpec(TypedDict, total=False):
    name: str
    description: str
    parameters: dict[str, Any]  # JSON Schema


class UnifiedTool(TypedDict, total=False):
    type: Literal["function"]
    function: FunctionSpec
    server_tool_type: str  # extension: the Anthropic server tool it came from ("web_search_20250305")
    cache_control: CacheControl


class ToolChoiceFunction(TypedDict):
    name: str


class NamedToolChoice(TypedDict):
    type: Literal["function"]
    function: ToolChoiceFunction


ToolChoice = Literal["auto", "none", "required"] | NamedToolChoice


class Reasoning(TypedDict, total=False):
    """Extension: the client's thinking request, for each dialect to map."""

    effort: Effort
    enabled: bool
    max_tokens: int  # the client's budget, when it gave one


class StreamOptions(TypedDict, total=False):
    include_usage: bool


class UnifiedRequest(TypedDict, total=False):
    model: str
    messages: list[UnifiedMessage]
    max_tokens: int
    max_completion_tokens: int
    temperature: float
    top_p: float
    top_k: int
    stop: list[str]
    stream: bool
    stream_options: StreamOptions
    tools: list[UnifiedTool]
    tool_choice: ToolChoice
    parallel_tool_calls: bool
    reasoning: Reasoning  # extension


class PromptTokensDetails(TypedDict, total=False):
    cached_tokens: int
    cache_creation_tokens: int


class OutputTokensDetails(TypedDict, total=False):
    reasoning_tokens: int


class Usage(TypedDict, total=False):
    prompt_tokens: int  # cache reads included
    completion_tokens: int
    total_tokens: int
    prompt_tokens_details: PromptTokensDetails
    output_tokens_details: OutputTokensDetails
    completion_tokens_details: OutputTokensDetails  # OpenAI's name for the same
    cache_read_input_tokens: int  # from providers that count the Anthropic way
    cache_creation_input_tokens: int


class UnifiedError(TypedDict, total=False):
    """An error reported inside a stream or body; `status` or a numeric `code` picks the
    Anthropic error type, else `type` when it is one."""

    message: str
    type: str
    code: int | str
    status: int


class Delta(TypedDict, total=False):
    role: str
    content: str | None
    thinking: Thinking  # extension
    tool_calls: list[ToolCall]
    annotations: list[Annotation]  # extension


class ChunkChoice(TypedDict, total=False):
    index: int
    delta: Delta
    finish_reason: str | None  # "stop" | "length" | "tool_calls" | "content_filter" | a provider's own
    error: UnifiedError  # OpenRouter, with finish_reason "error"


class UnifiedChunk(TypedDict, total=False):
    """One `chat.completion.chunk`, or an error chunk (`{"error": ...}` alone). Only
    `choices[0]` is read."""

    id: str
    object: str
    created: int
    model: str | None  # None from a Responses stream before its `response.created`
    choices: list[ChunkChoice]
    usage: Usage | None
    error: UnifiedError


class CompletionChoice(TypedDict, total=False):
    index: int
    message: UnifiedMessage
    finish_reason: str | None
    error: UnifiedError


class UnifiedCompletion(TypedDict, total=False):
    """A non-streaming answer (`chat.completion`). Only `choices[0]` is read."""

    id: str
    object: str
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage | None
    error: UnifiedError
