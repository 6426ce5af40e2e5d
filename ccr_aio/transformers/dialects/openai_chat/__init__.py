"""OpenAI chat completions: the unified shape is this format, so `openai` converts nothing; the
other modules adapt it to providers that speak it with quirks (reasoning fields, tool ids,
strict message parts, gateways, Google auth)."""
