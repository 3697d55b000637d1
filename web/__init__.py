"""aiohttp delivery: the manager's panel (server-rendered pages + plain JS), the JSON
API with its OpenAPI document, and the websocket that carries screen-pops.

Handlers are thin: parse the request, call a ``callcenter`` service, render.
"""
