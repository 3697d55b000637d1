"""The call log: one record per conversation, built from what Asterisk reports.

``events`` holds the typed events the AMI adapter produces; ``tracker`` is the pure
state machine that groups channels into calls (by Linkedid) and legs (a Local ;1/;2
pair is one leg); ``service`` feeds it, persists what changed and notifies browsers.
"""
