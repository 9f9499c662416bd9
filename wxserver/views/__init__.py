"""The web layer: blueprints that turn HTTP into protocol calls, and errors into statuses."""
