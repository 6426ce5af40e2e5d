"""Anthropic Messages as the wire format of an upstream (Claude on Vertex AI): the unified
request converted back to an Anthropic body (`request`), Anthropic answers to unified (`response`)."""
