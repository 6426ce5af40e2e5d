"""Server-side agents: tools the server offers the main model and answers itself.

Only the image agent today (`image.py`): a text-only main model gets an `analyzeImage` tool,
and the server answers its calls by asking the `Router.image` model.
"""
