"""Call recordings: the default folder where MixMonitor files are found, and the
adapter (``store``) that resolves, waits for and measures them.

Only ``*.py`` files here are part of the code; recordings dropped into this folder
are data and are ignored by git.
"""
