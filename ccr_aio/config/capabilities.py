"""What ccr-aio knows about common models: context window, longest answer, whether they reason.

A provider's `capabilities` entry for a model overrides this table field by field; a model in
neither is unknown (None everywhere), and then nothing is capped or enforced for it. The table
is matched on the model's name, lower-cased, after any `vendor/` prefix (OpenRouter spells
`openai/gpt-4o`), with dots read as dashes (`gpt-4.1` = `gpt-4-1`); the first prefix that
matches wins, so longer prefixes come first. Only widely published values are listed.
"""

from __future__ import annotations

from .model import Config, ModelCapabilities, ProviderConfig

_M = ModelCapabilities
# (name prefix, what is known) — most specific first.
BUILTIN: tuple[tuple[str, ModelCapabilities], ...] = (
    ("deepseek-chat", _M(128_000, 8_192)),
    ("deepseek-reasoner", _M(128_000, 65_536)),
    ("gpt-4o", _M(128_000, 16_384, reasoning=False)),
    ("gpt-4-1", _M(1_047_576, 32_768, reasoning=False)),
    ("gpt-5-chat", _M(128_000, 16_384, reasoning=False)),
    ("gpt-5", _M(400_000, 128_000, reasoning=True)),
    ("gpt-oss", _M(131_072, reasoning=True)),
    ("o1-mini", _M(128_000, 65_536, reasoning=True)),
    ("o1", _M(200_000, 100_000, reasoning=True)),
    ("o3", _M(200_000, 100_000, reasoning=True)),
    ("o4-mini", _M(200_000, 100_000, reasoning=True)),
    ("gemini-2-0-flash", _M(1_048_576, 8_192)),
    ("gemini-2-5", _M(1_048_576, 65_536)),
    ("gemini-3", _M(1_048_576, 65_536)),
    ("claude-3-5", _M(200_000, 8_192)),
    ("claude-3-7-sonnet", _M(200_000, 64_000)),
    ("claude-opus-4-0", _M(200_000, 32_000)),
    ("claude-opus-4-1", _M(200_000, 32_000)),
    ("claude-opus-4-5", _M(200_000, 64_000)),
    ("claude-sonnet-4", _M(200_000, 64_000)),
    ("claude-haiku-4", _M(200_000, 64_000)),
    ("kimi-k2-0711", _M(131_072)),
    ("kimi-k2", _M(262_144)),
    ("glm-4-5v", _M(65_536)),
    ("glm-4-5", _M(131_072)),
    ("glm-4-6", _M(204_800)),
    ("qwen3-coder-plus", _M(1_048_576, 65_536)),
    ("qwen3-coder-flash", _M(1_048_576, 65_536)),
    ("qwen3-coder", _M(262_144, 65_536)),
)
UNKNOWN = ModelCapabilities()


def _key(model: str) -> str:
    return model.lower().rsplit("/", 1)[-1].replace(".", "-").strip()


def builtin_capabilities(model: str) -> ModelCapabilities:
    """The table's entry for `model`, or all-unknown."""
    name = _key(model)
    return next((known for prefix, known in BUILTIN if name.startswith(prefix)), UNKNOWN)


def model_capabilities(provider: ProviderConfig | None, model: str) -> ModelCapabilities:
    """The provider's `capabilities` entry for `model` over the built-in table."""
    configured = provider.capabilities.get(model.lower()) if provider is not None else None
    known = builtin_capabilities(model)
    return configured.over(known) if configured is not None else known


def pair_window(config: Config, pair: str | None) -> int | None:
    """The known context window of a configured `provider,model`, else None."""
    if not pair or "," not in pair:
        return None
    name, _, model = pair.partition(",")
    return model_capabilities(config.provider(name.strip()), model.strip()).context_window


def session_window(config: Config) -> int | None:
    """The context window Claude Code should assume for a session routed by this config:
    the long-context model's when it is set and known (every request over the threshold goes
    there), else the smallest known one of default, think and subagent. None when none is known."""
    router = config.router
    long_window = pair_window(config, router.long_context)
    if long_window:
        return long_window
    windows = [pair_window(config, router.pair(key)) for key in ("default", "think", "subagent")]
    return min((w for w in windows if w), default=None)
