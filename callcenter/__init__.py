"""The call-center CRM domain: users, clients, calls and what happens to them.

This package owns the data model and the services that change it. It imports only
the standard library, SQLAlchemy, phonenumbers, argon2 and pydub-free helpers of its
own; it never imports aiohttp, panoramisk or the ``config`` package. Adapters
(``ami``, ``web``, ``recordings``) depend on it, not the other way round.
"""
