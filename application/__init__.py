"""The application layer: the only way in to the domain and the event store."""
