"""Token counting for routing: CCR's counting rules, the per-text cache, no network."""

from __future__ import annotations

import asyncio
import copy
import json
import random
import socket
import threading

import pytest
import tiktoken.load

from ccr_aio.routing import tokens
from ccr_aio.routing.tokens import TokenCounter, estimate_upper_bound, load_encoding

ENC = load_encoding()


def n(text: str) -> int:
    return len(ENC.encode_ordinary(text))


def compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def build_large_body(turns: int = 120, seed: int = 7) -> tuple[dict, int]:
    """A Claude Code-like session of ~400 KB, and its expected count built independently."""
    rng = random.Random(seed)
    words = ["def", "return", "self", "value", "config", "request", "async", "await", "None",
             "import", "error", "path", "json", "stream", "token", "héllo", "数据", "🙂"]

    def code(lines: int) -> str:
        return "\n".join(f"{i:4d}\t    " + " ".join(rng.choice(words) for _ in range(7))
                         for i in range(lines))

    system = [{"type": "text", "text": "You are Claude Code.\n" + code(60)}]
    tools = [{"name": f"Tool{i}", "description": code(3),
              "input_schema": {"type": "object", "properties": {"arg": {"type": "string"}}}}
             for i in range(12)]
    messages: list[dict] = [{"role": "user", "content": "Fix the failing tests please."}]
    expected = n(system[0]["text"]) + n(messages[0]["content"])
    expected += sum(n(t["name"] + t["description"]) + n(compact(t["input_schema"])) for t in tools)
    for turn in range(turns):
        note = f"Step {turn}: " + code(2)
        args = {"command": f"sed -n {turn},{turn + 80}p src/mod_{turn}.py", "description": "Read"}
        result = code(62)
        messages.append({"role": "assistant", "content": [
            {"type": "text", "text": note},
            {"type": "tool_use", "id": f"toolu_{turn:04d}", "name": "Bash", "input": args}]})
        messages.append({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": f"toolu_{turn:04d}", "content": result}]})
        expected += n(note) + n(compact(args)) + n(result)
    body = {"model": "claude-sonnet-4", "system": system, "tools": tools, "messages": messages}
    return body, expected


@pytest.fixture(scope="module")
def large() -> tuple[dict, int]:
    return build_large_body()


def test_hello_world_is_four_tokens() -> None:
    assert TokenCounter().count({"messages": [{"role": "user", "content": "Hello, world!"}]}) == 4


def test_loads_offline_from_shipped_file(monkeypatch, tmp_path) -> None:
    # An empty cache dir and no sockets: a download attempt would fail loudly.
    cache_dir = tmp_path / "tiktoken-cache"
    cache_dir.mkdir()
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache_dir))
    monkeypatch.setattr(tiktoken.load, "read_file", lambda *a: pytest.fail("tiktoken I/O"))
    monkeypatch.setattr(socket.socket, "connect", lambda *a: pytest.fail("network"))
    load_encoding.cache_clear()
    try:
        enc = load_encoding()
    finally:
        load_encoding.cache_clear()
    assert enc.name == "cl100k_base"
    assert enc.encode_ordinary("hello world") == [15339, 1917]  # cl100k_base reference ids
    assert enc.special_tokens_set >= {"<|endoftext|>", "<|endofprompt|>"}
    assert TokenCounter(enc).count({"messages": [{"role": "user", "content": "Hello, world!"}]}) == 4
    assert list(cache_dir.iterdir()) == []


def test_special_token_text_is_plain_text() -> None:
    body = {"messages": [{"role": "user", "content": "a <|endoftext|> b"}]}
    assert TokenCounter().count(body) == n("a <|endoftext|> b")


def test_system_and_tools_counted() -> None:
    schema = {"type": "object", "properties": {"path": {"type": "string", "description": "Fichier"}}}
    body = {
        "system": [{"type": "text", "text": "You are helpful."},
                   {"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        "tools": [{"name": "Read", "description": "Read a file", "input_schema": schema},
                  {"type": "web_search_20250305", "name": "web_search"}],
        "messages": [{"role": "user", "content": "hi"}],
    }
    expected = (n("You are helpful.") + n("Be brief.") + n("ReadRead a file") + n(compact(schema))
                + n("web_search") + n("hi"))
    assert TokenCounter().count(body) == expected
    assert TokenCounter().count({**body, "system": "You are helpful."}) == (
        expected - n("Be brief."))


def test_tool_use_tool_result_thinking_counted_images_not() -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                          "data": "iVBORw0KGgo" * 500}}
    args = {"file_path": "/src/app.py", "limit": 20, "note": "ünïcode"}
    body = {"messages": [
        {"role": "user", "content": [{"type": "text", "text": "Read app.py"}, image]},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "I should read it.", "signature": "sig" * 100},
            {"type": "redacted_thinking", "data": "opaque" * 100},
            {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": args}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "print('hi')"},
            {"type": "tool_result", "tool_use_id": "toolu_2",
             "content": [{"type": "text", "text": "line one"}, image]}]},
    ]}
    expected = (n("Read app.py") + n("I should read it.") + n(compact(args))
                + n("print('hi')") + n("line one"))
    assert TokenCounter().count(body) == expected


def test_growing_conversation_tokenizes_only_new_message() -> None:
    counter = TokenCounter()
    body = {"system": "sys", "messages": [{"role": "user", "content": "first question"},
                                          {"role": "assistant", "content": "first answer"}]}
    first = counter.count(body)
    assert (counter.stats.hits, counter.stats.misses) == (0, 3)
    grown = copy.deepcopy(body)  # new objects, as after json.loads of the next request
    grown["messages"].append({"role": "user", "content": "second question"})
    assert counter.count(grown) == first + n("second question")
    assert (counter.stats.hits, counter.stats.misses) == (3, 4)
    assert counter.stats.tokenized_chars == len("sysfirst questionfirst answersecond question")


def test_repeated_text_in_one_request_tokenized_once() -> None:
    counter = TokenCounter()
    body = {"messages": [{"role": "user", "content": "same"}] * 3}
    assert counter.count(body) == 3 * n("same")
    assert (counter.stats.misses, counter.stats.hits) == (1, 2)


async def test_count_async_equals_count(large) -> None:
    body, expected = large
    small = {"system": "s", "messages": [{"role": "user", "content": "Hello, world!"}]}
    inline = TokenCounter()
    assert await inline.count_async(small) == TokenCounter().count(small)
    assert inline.stats.offloaded == 0
    threaded = TokenCounter()
    assert await threaded.count_async(body) == expected == TokenCounter().count(body)
    assert threaded.stats.offloaded == 1
    assert await threaded.count_async(body) == expected
    assert threaded.stats.offloaded == 1  # all cached: nothing left to offload


async def test_concurrent_counts_share_cache_correctly(large) -> None:
    body, expected = large
    counter = TokenCounter(offload_chars=1_000)
    results = await asyncio.gather(*(counter.count_async(copy.deepcopy(body)) for _ in range(4)))
    threads = [threading.Thread(target=lambda: results.append(counter.count(body)))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [expected] * 8


def test_large_body_counts_and_second_turn_only_tokenizes_new(large) -> None:
    body, expected = large
    assert 350_000 < len(json.dumps(body, ensure_ascii=False).encode()) < 480_000
    counter = TokenCounter()
    assert counter.count(body) == expected
    cold_chars = counter.stats.tokenized_chars
    grown = copy.deepcopy(body)
    grown["messages"].append({"role": "user", "content": "Now run the tests."})
    assert counter.count(grown) == expected + n("Now run the tests.")
    assert counter.stats.tokenized_chars - cold_chars == len("Now run the tests.")
    assert counter.stats.misses == len(set(tokens.content_texts(body))) + 1


def test_cache_is_bounded(large) -> None:
    body, expected = large
    counter = TokenCounter(max_entries=50)
    assert counter.count(body) == expected  # eviction during a request keeps the total right
    assert len(counter) == 50


def test_upper_bound_is_at_least_the_count(large) -> None:
    body, expected = large
    assert expected <= estimate_upper_bound(body) < 4 * expected
    odd = {"messages": [{"role": "user", "content": "🙂" * 50 + "数据" * 50 + "\ud800"},
                        {"role": "assistant", "content": [
                            {"type": "tool_use", "id": "t", "name": "x", "input": {"é": "🙂"}}]}]}
    assert TokenCounter().count(odd) <= estimate_upper_bound(odd)
    assert estimate_upper_bound({}) == 0 == TokenCounter().count({})


async def test_count_async_stops_early_above_a_limit_and_finishes_in_background() -> None:
    from ccr_aio.routing.tokens import TokenCounter

    counter = TokenCounter(offload_chars=1000)
    body = {"messages": [{"role": "user", "content": f"paragraph {i} " + "word " * 2000} for i in range(20)]}
    exact = TokenCounter().count(body)
    partial = await counter.count_async(body, stop_above=5000)
    assert 5000 < partial <= exact
    while counter._background:  # the rest is counted off the request path
        await next(iter(counter._background))
    assert await counter.count_async(body, stop_above=5000) == exact  # warm: every text cached
    assert counter.stats.misses == 20


async def test_tokenizer_loads_on_first_need_in_the_counters_thread(monkeypatch) -> None:
    loads: list[str] = []

    def recording_load():
        loads.append(threading.current_thread().name)
        return ENC

    monkeypatch.setattr(tokens, "load_encoding_logged", recording_load)
    counter = TokenCounter()
    assert loads == []  # building the counter (at app start) loads nothing
    body = {"messages": [{"role": "user", "content": "Hello, world!"}]}
    assert await counter.count_async(body) == 4
    assert len(loads) == 1 and loads[0].startswith("tokens")  # off the event loop's thread
    assert await counter.count_async({"messages": [{"role": "user", "content": "new text"}]}) == n("new text")
    assert len(loads) == 1


async def test_fully_cached_counts_need_no_tokenizer(monkeypatch) -> None:
    counter = TokenCounter(ENC)
    body = {"messages": [{"role": "user", "content": "Hello, world!"}]}
    first = await counter.count_async(body)
    fresh = TokenCounter()
    fresh._cache = counter._cache  # the same per-text counts, no tokenizer yet
    monkeypatch.setattr(tokens, "load_encoding_logged", lambda: pytest.fail("loaded without need"))
    assert await fresh.count_async(body) == first


def test_tokenizer_keeps_no_python_copy_of_its_ranks() -> None:
    assert ENC._mergeable_ranks == {}  # the Rust core has its own: ~14 MB less
    assert ENC.encode_ordinary("hello world") == [15339, 1917]
