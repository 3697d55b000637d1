"""Users of the panel, their roles, phone extensions, sessions and API tokens."""
