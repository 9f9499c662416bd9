"""Handler sets shipped with the server, loaded exactly like third-party plugins."""
