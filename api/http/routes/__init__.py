"""One router per resource; each handler asks for what it needs and stays a few lines."""
