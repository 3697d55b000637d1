"""Interaction history of a client: calls, letters, meetings, materials sent."""
