"""HTTP routes, one module per area; each has ``setup(app)`` that adds its routes."""
