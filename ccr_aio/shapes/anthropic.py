"""Anthropic Messages: the request a client sends, the message and the events the server emits.

The request side (`AnthropicRequest` and what it holds) comes from the client, so every key is
optional and read defensively. The answer side is what the server builds: its content blocks
and events are tagged unions on `type`, exact about which keys each kind carries.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

# -- Literals ------------------------------------------------------------------------------

StopReason = Literal["end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal"]
BlockKind = Literal["text", "thinking", "tool_use", "server_tool_use", "web_search_tool_result"]
DeltaType = Literal["text_delta", "thinking_delta", "signature_delta", "input_json_delta"]
EventType = Literal[
    "message_start", "content_block_start", "content_block_delta", "content_block_stop",
    "message_delta", "message_stop", "ping", "error",
]
ErrorType = Literal[
    "invalid_request_error", "authentication_error", "permission_error", "not_found_error",
    "request_too_large", "rate_limit_error", "api_error", "overloaded_error",
]


class CacheControl(TypedDict, total=False):
    """A prompt-cache marker; the unified shape carries it on parts, messages and tools."""

    type: str  # "ephemeral"
    ttl: str


# -- the request a client sends ------------------------------------------------------------


class BlockSource(TypedDict, total=False):
    type: str  # "base64" | "url" | "text" | "content"
    media_type: str
    data: str
    url: str
    content: list[RequestBlock]


class RequestBlock(TypedDict, total=False):
    """A content block in a client's message or system prompt; which keys are set depends on
    `type` (text, image, document, tool_use, tool_result, thinking, ...)."""

    type: str
    text: str
    cache_control: CacheControl
    citations: list[dict[str, Any]]
    source: BlockSource
    id: str
    name: str
    input: dict[str, Any]
    tool_use_id: str
    content: str | list[RequestBlock]
    is_error: bool
    thinking: str
    signature: str


class MessageParam(TypedDict, total=False):
    role: str  # "user" | "assistant" (Claude Code also sends "system" turns)
    content: str | list[RequestBlock]


class ToolParam(TypedDict, total=False):
    """A client tool (`input_schema`), or a server tool named by a versioned `type`."""

    type: str  # absent or "custom" for client tools; "web_search_20250305", ...
    name: str
    description: str
    input_schema: dict[str, Any]
    cache_control: CacheControl


class ToolChoiceParam(TypedDict, total=False):
    type: str  # "auto" | "any" | "none" | "tool"
    name: str
    disable_parallel_tool_use: bool


class ThinkingParam(TypedDict, total=False):
    type: str  # "enabled" | "disabled" | "adaptive"
    budget_tokens: int


class OutputConfig(TypedDict, total=False):
    effort: str  # "low" | "medium" | "high" | "xhigh" | "max": what `/effort` sets


class AnthropicRequest(TypedDict, total=False):
    """The body of `POST /v1/messages` (the server checks only `model` and `messages`)."""

    model: str
    messages: list[MessageParam]
    system: str | list[RequestBlock]
    max_tokens: int
    temperature: float
    top_p: float
    top_k: int
    stream: bool
    stop_sequences: list[str]
    tools: list[ToolParam]
    tool_choice: ToolChoiceParam
    thinking: ThinkingParam
    output_config: OutputConfig
    metadata: dict[str, Any]


# -- the message the server answers with ---------------------------------------------------


class TextBlock(TypedDict):
    type: Literal["text"]
    text: str


class ThinkingBlock(TypedDict):
    type: Literal["thinking"]
    thinking: str
    signature: NotRequired[str]  # in a stream it comes last, as a signature_delta


class ToolUseBlock(TypedDict):
    type: Literal["tool_use"]
    id: str
    name: str
    input: dict[str, Any]


class ServerToolUseBlock(TypedDict):
    type: Literal["server_tool_use"]
    id: str
    name: str
    input: dict[str, Any]


class WebSearchResult(TypedDict):
    type: Literal["web_search_result"]
    url: str
    title: str


class WebSearchToolResultBlock(TypedDict):
    type: Literal["web_search_tool_result"]
    tool_use_id: str
    content: list[WebSearchResult]


ContentBlock = TextBlock | ThinkingBlock | ToolUseBlock | ServerToolUseBlock | WebSearchToolResultBlock


class AnthropicUsage(TypedDict, total=False):
    input_tokens: int
    output_tokens: int
    cache_read_input_tokens: int
    cache_creation_input_tokens: int


class AnthropicMessage(TypedDict):
    """A whole answer: the JSON body of a non-streaming response, and `message_start.message`
    (with no content yet) in a stream."""

    id: str
    type: Literal["message"]
    role: Literal["assistant"]
    model: str
    content: list[ContentBlock]
    stop_reason: StopReason | None
    stop_sequence: str | None
    usage: AnthropicUsage


# -- the events of a streamed answer -------------------------------------------------------


class TextDelta(TypedDict):
    type: Literal["text_delta"]
    text: str


class ThinkingDelta(TypedDict):
    type: Literal["thinking_delta"]
    thinking: str


class SignatureDelta(TypedDict):
    type: Literal["signature_delta"]
    signature: str


class InputJsonDelta(TypedDict):
    type: Literal["input_json_delta"]
    partial_json: str


BlockDelta = TextDelta | ThinkingDelta | SignatureDelta | InputJsonDelta


class MessageStartEvent(TypedDict):
    type: Literal["message_start"]
    message: AnthropicMessage


class ContentBlockStartEvent(TypedDict):
    type: Literal["content_block_start"]
    index: int
    content_block: ContentBlock


class ContentBlockDeltaEvent(TypedDict):
    type: Literal["content_block_delta"]
    index: int
    delta: BlockDelta


class ContentBlockStopEvent(TypedDict):
    type: Literal["content_block_stop"]
    index: int


BlockEvent = ContentBlockStartEvent | ContentBlockDeltaEvent | ContentBlockStopEvent  # events with an index


class MessageDelta(TypedDict):
    stop_reason: StopReason | None
    stop_sequence: str | None


class MessageDeltaEvent(TypedDict):
    type: Literal["message_delta"]
    delta: MessageDelta
    usage: AnthropicUsage


class MessageStopEvent(TypedDict):
    type: Literal["message_stop"]


class PingEvent(TypedDict):
    type: Literal["ping"]


class ErrorDetail(TypedDict):
    type: str  # an ErrorType, or the type an Anthropic-format provider sent
    message: str


class ErrorEvent(TypedDict):
    """The `error` event of a stream, and the JSON body of every error response."""

    type: Literal["error"]
    error: ErrorDetail


AnthropicEvent = (
    MessageStartEvent
    | ContentBlockStartEvent
    | ContentBlockDeltaEvent
    | ContentBlockStopEvent
    | MessageDeltaEvent
    | MessageStopEvent
    | PingEvent
    | ErrorEvent
)
