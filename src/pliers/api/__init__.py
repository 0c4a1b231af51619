"""The HTTP and WebSocket layer: `pliers.api.app.create_app` builds the application."""
