"""Captured Asterisk 22 AMI timelines and a sample recording (data, no code).

Kept as a package so that setuptools ships the files with ``ami.simulator``.
"""
