"""Count the tokens of an Anthropic Messages request, the way Claude Code Router does.

The count only drives routing (long-context threshold), so cl100k_base is used as CCR does.
Claude Code resends the whole conversation every turn, so each piece of content is counted
once and remembered by a hash of its text: a growing conversation only tokenizes what is new.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import io
import threading
import time
import types
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import structlog
import tiktoken
from aiohttp import web
from tiktoken_ext import openai_public

from ..jsonutil import dumps

log = structlog.get_logger("ccr_aio")
BPE_PATH = Path(__file__).resolve().parent.parent / "data" / "cl100k_base.tiktoken"
BPE_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
DEFAULT_MAX_ENTRIES = 20_000
# New text tokenizes at ~8 ms per 100 KB; below this, a thread hop is not worth it.
DEFAULT_OFFLOAD_CHARS = 50_000

_Key = int  # a text's length above its hash's 64 bits: see `_key`
_HASH_BITS = (1 << 64) - 1
T = TypeVar("T")


def _read_local_bpe(expected_hash: str | None = None) -> dict[bytes, int]:
    # Parsed here rather than by tiktoken.load.load_tiktoken_bpe: that one copies the file
    # into TIKTOKEN_CACHE_DIR and raises if a user-set cache dir is not writable.
    if expected_hash not in (None, BPE_SHA256):
        raise ValueError(f"tiktoken wants a cl100k_base with sha256 {expected_hash}; "
                         f"the shipped {BPE_PATH.name} is {BPE_SHA256}")
    data = BPE_PATH.read_bytes()
    if hashlib.sha256(data).hexdigest() != BPE_SHA256:
        raise ValueError(f"{BPE_PATH} is corrupt: sha256 does not match {BPE_SHA256}")
    # Line by line from a stream: no list of 100k lines on top of the ranks at the peak.
    return {base64.b64decode(tok): int(rank)
            for tok, rank in (line.split() for line in io.BytesIO(data) if line.strip())}


@functools.cache
def load_encoding() -> tiktoken.Encoding:
    """cl100k_base from the shipped file; never touches the network or the tiktoken cache.

    Takes ~0.1 s and ~25 MB: `TokenCounter` loads it in its thread the first time a count
    needs it, so a server whose rules never count tokens never pays for it. With workers, the
    parent loads it before the fork when the rules count tokens: they share its pages.
    """
    # Run tiktoken's own cl100k_base() (pat_str, special tokens) with the URL loader swapped
    # for the local file, on a copy of the function so the shared module is never patched.
    definition = types.FunctionType(
        openai_public.cl100k_base.__code__,
        {**openai_public.cl100k_base.__globals__,
         "load_tiktoken_bpe": lambda _url, expected_hash=None: _read_local_bpe(expected_hash)},
    )
    encoding = tiktoken.Encoding(**definition())
    # The Rust core holds its own copy of the 100k ranks; tiktoken keeps the Python dict only
    # to pickle the Encoding, which nothing here does. Dropping it frees ~14 MB.
    encoding._mergeable_ranks = {}
    return encoding


def load_encoding_logged() -> tiktoken.Encoding:
    """`load_encoding`, logging `tokenizer_loaded` when this call is the one that loads it.
    (Not inside `load_encoding`: before the server sets up logging, a log line would go to
    stdout, which may be a command's output.)"""
    if load_encoding.cache_info().currsize:
        return load_encoding()
    began = time.perf_counter()
    encoding = load_encoding()
    log.info("tokenizer_loaded", seconds=round(time.perf_counter() - began, 3))
    return encoding


def _block_texts(block: Any, out: list[str]) -> None:
    if not isinstance(block, dict):
        return
    kind = block.get("type")
    if kind == "text":
        if isinstance(block.get("text"), str):
            out.append(block["text"])
    elif kind in ("tool_use", "server_tool_use"):
        if "input" in block:
            out.append(dumps(block["input"]))
    elif kind == "tool_result":
        content = block.get("content")
        if isinstance(content, str):
            out.append(content)
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and part.get("type") == "text":
                    out.append(part.get("text") or "")
                elif isinstance(part, dict) and part.get("type") not in ("image", "document"):
                    out.append(dumps(part))
    elif kind == "thinking":
        if isinstance(block.get("thinking"), str):
            out.append(block["thinking"])
    # image, document (base64 payloads) and redacted_thinking (opaque) are not counted.


def content_texts(body: dict[str, Any]) -> list[str]:
    """The texts whose tokens make up the count of a request: messages, system, tools."""
    out: list[str] = []
    system = body.get("system")
    if isinstance(system, str):
        out.append(system)
    elif isinstance(system, list):
        for block in system:
            _block_texts(block, out)
    for message in body.get("messages") or ():
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            out.append(content)
        elif isinstance(content, list):
            for block in content:
                _block_texts(block, out)
    for tool in body.get("tools") or ():
        if isinstance(tool, dict):
            out.append(f"{tool.get('name') or ''}{tool.get('description') or ''}")
            if "input_schema" in tool:
                out.append(dumps(tool["input_schema"]))
    return out


def estimate_upper_bound(body: dict[str, Any]) -> int:
    """A bound that is never below `TokenCounter.count(body)`, at a fraction of its cold cost.

    Every cl100k token covers at least one byte of UTF-8, so tokens <= UTF-8 bytes. A router
    can skip exact counting when this is already below its threshold.
    """
    return sum(len(t) if t.isascii() else len(t.encode("utf-8", "surrogatepass"))
               for t in content_texts(body))


@dataclass
class TokenStats:
    hits: int = 0  # texts found in the cache (or repeated within one request)
    misses: int = 0  # distinct texts that had to be tokenized
    tokenized_chars: int = 0
    offloaded: int = 0  # count_async calls that tokenized in a worker thread


class TokenCounter:
    """Token counts of requests, with an LRU cache of per-text counts shared by all requests.

    The cache is only touched under a lock and tokenization runs outside it, so `count` is
    safe from any thread and `count_async` can tokenize in a worker thread: one thread of its
    own, which also loads the tokenizer once, on the first count that needs it. (One thread
    keeps one malloc arena: a pool of threads each kept its own, several MB apiece.)
    """

    def __init__(self, encoding: tiktoken.Encoding | None = None, *,
                 max_entries: int = DEFAULT_MAX_ENTRIES,
                 offload_chars: int = DEFAULT_OFFLOAD_CHARS) -> None:
        self._encoding = encoding  # loaded on first use: start-up must not wait for it
        self.max_entries = max_entries
        self.offload_chars = offload_chars
        self.stats = TokenStats()
        # Keys are the length and hash of the text in one int, not the text (nor a tuple: an
        # int key takes ~1.8 MB less at 20k entries), so the cache stays under 3 MB. The strings
        # are new objects every request, yet hashing them costs less than json.loads.
        self._cache: OrderedDict[_Key, int] = OrderedDict()
        self._lock = threading.Lock()
        self._background: set[asyncio.Task[None]] = set()
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tokens")

    @property
    def encoding(self) -> tiktoken.Encoding:
        if self._encoding is None:
            self._encoding = load_encoding_logged()
        return self._encoding

    async def _in_thread(self, work: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, work, *args)

    async def _loaded(self) -> None:
        """The tokenizer, loaded in the counter's thread so the loop keeps serving meanwhile."""
        if self._encoding is None:
            self._encoding = await self._in_thread(load_encoding_logged)

    def __len__(self) -> int:
        return len(self._cache)

    def count(self, body: dict[str, Any]) -> int:
        """Tokens of the messages, system and tools of an Anthropic request."""
        keys, known, pending = self._lookup(content_texts(body))
        return self._finish(keys, known, self._tokenize(pending))

    async def count_async(self, body: dict[str, Any], stop_above: int | None = None) -> int:
        """Same as `count`; large new content is tokenized in a thread so the loop keeps going.

        With `stop_above`, counting may stop once the total is known to exceed it (the answer
        is then a lower bound above `stop_above`): a router only needs "over the threshold?".
        The rest is tokenized in the background so the next turn of the session is warm."""
        keys, known, pending = self._lookup(content_texts(body))
        if pending:
            await self._loaded()
        if sum(map(len, pending.values())) <= self.offload_chars:
            return self._finish(keys, known, self._tokenize(pending))
        with self._lock:
            self.stats.offloaded += 1
        if stop_above is None:
            return self._finish(keys, known, await self._in_thread(self._tokenize, pending))
        budget = stop_above - sum(known.get(key, 0) for key in keys)
        fresh: dict[_Key, int]
        rest: dict[_Key, str]
        if budget < 0:  # what is cached already decides
            fresh, rest = {}, pending
        else:
            fresh, rest = await self._in_thread(self._tokenize_until, pending, budget)
        if not rest:
            return self._finish(keys, known, fresh)
        self._store(fresh)
        task = asyncio.get_running_loop().create_task(self._tokenize_later(rest))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return stop_above - budget + sum(fresh.values())

    def _tokenize_until(self, pending: dict[_Key, str], budget: int) -> tuple[dict[_Key, int], dict[_Key, str]]:
        # Largest texts first: the budget is crossed after the fewest encode calls.
        encode = self.encoding.encode_ordinary
        fresh: dict[_Key, int] = {}
        order = sorted(pending, key=_length, reverse=True)
        total = 0
        for done, key in enumerate(order):
            fresh[key] = n = len(encode(pending[key]))
            total += n
            if total > budget:
                return fresh, {k: pending[k] for k in order[done + 1:]}
        return fresh, {}

    async def _tokenize_later(self, pending: dict[_Key, str]) -> None:
        self._store(await self._in_thread(self._tokenize, pending))

    def _lookup(self, texts: list[str]) -> tuple[list[_Key], dict[_Key, int], dict[_Key, str]]:
        keys = [_key(text) for text in texts]  # hashed before taking the lock
        known: dict[_Key, int] = {}
        pending: dict[_Key, str] = {}
        cache = self._cache
        with self._lock:
            for key, text in zip(keys, texts):
                if key in known or key in pending:
                    self.stats.hits += 1
                elif (n := cache.get(key)) is not None:
                    cache.move_to_end(key)
                    known[key] = n
                    self.stats.hits += 1
                else:
                    pending[key] = text
                    self.stats.misses += 1
        return keys, known, pending

    def _tokenize(self, pending: dict[_Key, str]) -> dict[_Key, int]:
        # encode_ordinary: "<|endoftext|>" in user text is plain text, not an error. The Rust
        # core releases the GIL, so this can run in a worker thread.
        if not pending:
            return {}  # all counts cached: the tokenizer need not even be loaded
        encode = self.encoding.encode_ordinary
        return {key: len(encode(text)) for key, text in pending.items()}

    def _finish(self, keys: list[_Key], known: dict[_Key, int], fresh: dict[_Key, int]) -> int:
        # The total comes from this request's own counts: eviction cannot change it.
        known.update(fresh)
        self._store(fresh)
        return sum(known[key] for key in keys)

    def _store(self, fresh: dict[_Key, int]) -> None:
        with self._lock:
            self.stats.tokenized_chars += sum(map(_length, fresh))
            cache = self._cache
            cache.update(fresh)
            while len(cache) > self.max_entries:
                cache.popitem(last=False)


def _key(text: str) -> _Key:
    return (len(text) << 64) | (hash(text) & _HASH_BITS)


def _length(key: _Key) -> int:
    return key >> 64


TOKENS = web.AppKey("tokens", TokenCounter)  # the app's counter, shared by all requests
