"""The config model: typed, frozen objects (`model.py`) and the one validator that builds them
(`parse.py`). Reading the file, `$VAR` interpolation and env/CLI overrides are `settings.py`."""

from .model import (
    DEFAULT_LONG_CONTEXT_THRESHOLD,
    ROUTER_KEYS,
    ROUTER_SCENARIOS,
    ClientKey,
    Config,
    PluginSpec,
    ProviderConfig,
    RouterConfig,
    RouterKey,
    RouterScenario,
    ServerLimits,
    TransformerSpec,
    TransformerUse,
)
from .parse import Parsed, parse_config, parse_provider_config, parse_router_config
from .problems import ConfigError, ConfigInvalid, Problem, describe

__all__ = [
    "DEFAULT_LONG_CONTEXT_THRESHOLD", "ROUTER_KEYS", "ROUTER_SCENARIOS", "ClientKey", "Config", "ConfigError",
    "ConfigInvalid", "Parsed", "PluginSpec", "Problem", "ProviderConfig", "RouterConfig", "RouterKey",
    "RouterScenario", "ServerLimits", "TransformerSpec", "TransformerUse", "describe", "parse_config",
    "parse_provider_config", "parse_router_config",
]
