"""Importing clients from where the data lives now: Excel, CSV, Outlook, vCard, 1C."""
