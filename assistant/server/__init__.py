"""The HTTP edge: FastAPI routes that only translate to and from the Assistant service."""
