"""The shapes of the JSON that flows through the server, as TypedDicts and Literals.

`anthropic.py` is the client side: the Messages request a client sends, and the message and
events the server answers with. `unified.py` is the shape between the endpoint and the
dialects (OpenAI chat completions with a few extensions, see docs/architecture.md).

These are descriptions, not validators: a TypedDict is a plain dict at runtime, nothing is
checked or copied. Bodies and chunks from clients and providers are read defensively, so a
shape says which keys may be there and what they hold when they are well formed.
"""
