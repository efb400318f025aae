"""The monitoring view: `serve`'s `/ui` pages (server-rendered HTML, Jinja2)."""
