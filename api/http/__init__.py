"""The HTTP entry point: the FastAPI app, one router per resource, and what they share."""
