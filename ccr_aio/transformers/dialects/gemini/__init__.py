"""Google Gemini `generateContent`: `gemini` (AI Studio) and `vertex_gemini` (Vertex AI) share
the `request`, `response` and `schema` conversions."""
