"""The config model: typed, frozen objects (`model.py`) and the one validator that builds them
(`parse.py`). Reading the file, `$VAR` interpolation and env/CLI overrides are `settings.py`."""

from .capabilities import model_capabilities
from .model import (
    DEFAULT_LONG_CONTEXT_THRESHOLD,
    FALLBACK_SCENARIOS,
    ROUTER_KEYS,
    ROUTER_SCENARIOS,
    THINK_WHEN,
    Config,
    FallbackScenario,
    ModelCapabilities,
    PluginSpec,
    ProviderConfig,
    RouterConfig,
    RouterKey,
    RouterScenario,
    ServerLimits,
    ThinkWhen,
    TransformerSpec,
    TransformerUse,
)
from .parse import Parsed, parse_config, parse_provider_config, parse_router_config
from .problems import ConfigError, ConfigInvalid, Problem, describe

__all__ = [
    "DEFAULT_LONG_CONTEXT_THRESHOLD", "FALLBACK_SCENARIOS", "ROUTER_KEYS", "ROUTER_SCENARIOS",
    "THINK_WHEN", "Config", "ConfigError", "ConfigInvalid", "FallbackScenario", "ModelCapabilities",
    "Parsed", "PluginSpec", "Problem", "ProviderConfig", "RouterConfig", "RouterKey",
    "RouterScenario", "ServerLimits", "ThinkWhen", "TransformerSpec", "TransformerUse", "describe",
    "model_capabilities", "parse_config",
    "parse_provider_config", "parse_router_config",
]
