"""Pages for people under /ui: server-rendered, usable without JavaScript."""
