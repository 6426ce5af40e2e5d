"""Reading and editing the prompt for routing: the subagent tag, images, REWRITE_SYSTEM_PROMPT."""

from __future__ import annotations

import re
from typing import Any, cast

TAG = re.compile(r"\s*<CCR-SUBAGENT-MODEL>(.*?)</CCR-SUBAGENT-MODEL>\s*", re.S)


def _strip_tag(text: str) -> tuple[str | None, str]:
    match = TAG.match(text)
    if not match:
        return None, text
    return match.group(1).strip(), text[match.end():]


def take_subagent_tag(body: dict[str, Any]) -> str | None:
    """Find `<CCR-SUBAGENT-MODEL>provider,model</CCR-SUBAGENT-MODEL>` at the start of any
    system block (current Claude Code puts a billing header first, so not only `system[1]`)
    or of the first user message, remove it from the prompt, and return the pair."""
    system = body.get("system")
    if isinstance(system, str):
        pair, rest = _strip_tag(system)
        if pair:
            body["system"] = rest
            return pair
    elif isinstance(system, list):
        for i, block in enumerate(system):
            if isinstance(block, dict) and isinstance(block.get("text"), str) and "<CCR-SUBAGENT-MODEL>" in block["text"]:
                pair, rest = _strip_tag(block["text"])
                if pair:
                    body["system"] = [*system[:i], {**block, "text": rest}, *system[i + 1:]]
                    return pair
    return _take_from_first_user_message(body)


def _take_from_first_user_message(body: dict[str, Any]) -> str | None:
    messages = body.get("messages") or []
    index = next((i for i, m in enumerate(messages) if isinstance(m, dict) and m.get("role") == "user"), None)
    if index is None:
        return None
    message = messages[index]
    content = message.get("content")
    if isinstance(content, str):
        pair, rest = _strip_tag(content)
        if pair:
            messages[index] = {**message, "content": rest}
        return pair
    if isinstance(content, list):
        for i, block in enumerate(content):
            if isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str):
                pair, rest = _strip_tag(block["text"])
                if pair:
                    messages[index] = {**message, "content": [*content[:i], {**block, "text": rest}, *content[i + 1:]]}
                    return pair
    return None


def _has_image(blocks: Any) -> bool:
    if not isinstance(blocks, list):
        return False
    for block in blocks:
        if isinstance(block, dict):
            if block.get("type") == "image":
                return True
            if block.get("type") == "tool_result" and _has_image(block.get("content")):
                return True
    return False


def last_user_message_has_images(body: dict[str, Any]) -> bool:
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            return _has_image(message.get("content"))
    return False


def rewrite_system_prompt(body: dict[str, Any], replacement: str | None) -> None:
    """REWRITE_SYSTEM_PROMPT: replace the text before `<env>` in the system block holding it.
    Current Claude Code moved the environment into a `role: "system"` message, so when no
    block has `<env>` the last system block (the main prompt) is replaced instead."""
    if not replacement:
        return
    system = body.get("system")
    if isinstance(system, str):
        cut = system.find("<env>")
        body["system"] = replacement + (system[cut:] if cut >= 0 else "")
    elif isinstance(system, list) and system:
        texts = [b.get("text") if isinstance(b, dict) else None for b in system]
        index = next((i for i, t in enumerate(texts) if isinstance(t, str) and "<env>" in t), None)
        if index is None:
            index = max((i for i, t in enumerate(texts) if isinstance(t, str)), default=None)
            if index is None:
                return
            new_text = replacement
        else:
            env = cast(str, texts[index])  # chosen above among the texts holding "<env>"
            new_text = replacement + env[env.index("<env>"):]
        body["system"] = [*system[:index], {**system[index], "text": new_text}, *system[index + 1:]]
