"""Thinking across providers: reasoning fields and tags turned into the unified thinking
protocol (`thinking`, `tags`), and the transformers that use them."""
