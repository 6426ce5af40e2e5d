"""The client-facing endpoint: Anthropic Messages requests in, unified (OpenAI chat) requests out;
unified answers in, Anthropic messages or SSE events out. `anthropic.py` is the transformer; the
other modules are its request, content, response, aggregate and stream conversions."""
