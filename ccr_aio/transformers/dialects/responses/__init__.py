"""The OpenAI Responses API (`POST …/v1/responses`): `openai_responses.py` is the transformer;
`request`, `response` and `stream` convert to and from the unified shape."""
