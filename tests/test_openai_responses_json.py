"""openai-responses non-stream: Responses JSON -> unified chat.completion (§3.2, RP4 [FIX])."""

from __future__ import annotations

import copy

import pytest

from ccr_aio.errors import ApiError
from ccr_aio.transformers import BUILTINS, Context
from ccr_aio.transformers.dialects.responses.common import encrypted_reasoning
from ccr_aio.transformers.endpoint.response import unified_to_anthropic_message
from tests.fakes.responses_upstream import (
    MODEL,
    function_call_item,
    message_item,
    reasoning_item,
    response_object,
    usage,
)

CTX = Context(provider="resp", model=MODEL)
ANNOTATION = {"type": "url_citation", "url": "https://a", "title": "A", "start_index": 0, "end_index": 2}


def convert(body: dict) -> dict:
    return BUILTINS.create("openai-responses").json_out(body, CTX)


def rp4() -> dict:
    return response_object(
        [reasoning_item("Because.", encrypted="gAAAAB-enc"),
         message_item("Hi", annotations=[ANNOTATION]),
         function_call_item("c1", "Read", '{"p":1}'),
         function_call_item("c2", "Bash", '{"c":"ls"}')],
        {"input_tokens": 3, "output_tokens": 4, "total_tokens": 7},
    )


def test_rp4_all_calls_thinking_annotation_usage():
    body = rp4()
    original = copy.deepcopy(body)
    out = convert(body)
    assert body == original
    assert out["object"] == "chat.completion" and out["id"] == "resp_1" and out["model"] == MODEL
    assert out["created"] == 1700000000
    choice = out["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    message = choice["message"]
    assert message["content"] == "Hi"
    assert message["tool_calls"] == [  # [FIX] every call, not only the first
        {"id": "c1", "type": "function", "function": {"name": "Read", "arguments": '{"p":1}'}},
        {"id": "c2", "type": "function", "function": {"name": "Bash", "arguments": '{"c":"ls"}'}},
    ]
    assert message["annotations"] == [{"type": "url_citation", "url_citation": {
        "url": "https://a", "title": "A", "content": "", "start_index": 0, "end_index": 2}}]
    assert message["thinking"]["content"] == "Because."  # [FIX] from the reasoning item
    assert encrypted_reasoning(message["thinking"]["signature"], "resp") == "gAAAAB-enc"
    assert out["usage"] == {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}


def test_rp4_as_an_anthropic_message():
    message = unified_to_anthropic_message(convert(rp4()), "claude-x")
    assert [b["type"] for b in message["content"]] == [
        "thinking", "server_tool_use", "web_search_tool_result", "text", "tool_use", "tool_use"]
    assert message["content"][0]["signature"].startswith("ccr_")
    assert [b["input"] for b in message["content"][4:]] == [{"p": 1}, {"c": "ls"}]
    assert message["stop_reason"] == "tool_use"
    assert message["usage"]["input_tokens"] == 3 and message["usage"]["output_tokens"] == 4


def test_text_only_with_cached_usage():
    out = convert(response_object([message_item("Plain")], usage(50, 5, cached=30, reasoning=2)))
    assert out["choices"][0]["message"] == {"role": "assistant", "content": "Plain"}
    assert out["choices"][0]["finish_reason"] == "stop"
    assert out["usage"]["prompt_tokens_details"] == {"cached_tokens": 30}  # [FIX]
    assert out["usage"]["output_tokens_details"] == {"reasoning_tokens": 2}


def test_reasoning_signature_without_encrypted_content_is_the_item_id():
    out = convert(response_object([reasoning_item("A", "B", item_id="rs_42"), message_item("x")]))
    assert out["choices"][0]["message"]["thinking"] == {"content": "A\n\nB", "signature": "rs_42"}


def test_reasoning_without_text_is_not_thinking():
    out = convert(response_object([reasoning_item(encrypted="e"), message_item("x")]))
    assert "thinking" not in out["choices"][0]["message"]


def test_several_messages_and_a_refusal():
    refusal = {"id": "msg_2", "type": "message", "role": "assistant",
               "content": [{"type": "refusal", "refusal": "No."}]}
    out = convert(response_object([message_item("One"), refusal]))
    assert out["choices"][0]["message"]["content"] == "One\n\nNo."


def test_incomplete_is_length():
    out = convert(response_object([message_item("cut")], status="incomplete", incomplete_reason="max_output_tokens"))
    assert out["choices"][0]["finish_reason"] == "length"
    assert unified_to_anthropic_message(out)["stop_reason"] == "max_tokens"


def test_no_usage_and_no_text():
    body = response_object([function_call_item("c1", "A", "{}")])
    del body["usage"]
    out = convert(body)
    assert "usage" not in out
    assert out["choices"][0]["message"]["content"] is None


def test_output_images_make_content_parts():
    item = {"id": "msg_1", "type": "message", "role": "assistant", "content": [
        {"type": "output_text", "text": "Look"}, {"type": "output_image", "b64_json": "AAAA", "mime_type": "image/png"}]}
    content = convert(response_object([item]))["choices"][0]["message"]["content"]
    assert content == [{"type": "text", "text": "Look"},
                       {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA", "b64_json": "AAAA"},
                        "media_type": "image/png"}]


@pytest.mark.parametrize("body", [
    {"id": "chatcmpl-1", "object": "chat.completion", "choices": []},
    {"object": "response"},  # no output list
])
def test_other_bodies_pass_through(body):
    assert convert(body) is body


@pytest.mark.parametrize("error, status", [
    ({"code": "rate_limit_exceeded", "message": "Slow down"}, 429),
    ({"code": "server_error", "message": "Boom"}, 500),
])
def test_failed_response_raises_with_the_provider_message(error, status):
    with pytest.raises(ApiError) as info:
        convert(response_object([], status="failed", error=error))
    assert info.value.status == status
    assert error["message"] in info.value.message and "resp" in info.value.message
