"""The web layer: the app factory, the callback pipeline and route, and the blueprints."""
