"""Provider wire formats: one package per format, each holding the transformers of the providers
that speak it and the conversions between the unified shape and that format.

    openai_chat/         OpenAI chat completions (the unified shape itself) and its vendor variants
    responses/           the OpenAI Responses API
    gemini/              Google Gemini (AI Studio and Vertex AI)
    anthropic_messages/  Anthropic Messages as an upstream format (Claude on Vertex AI)
"""
