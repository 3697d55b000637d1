"""Asterisk adapter: the AMI link, event translation and AMI actions (panoramisk).

Raw AMI messages never leave this package: ``translate`` turns them into the typed
events of ``callcenter.calls.events``, and ``telephony`` implements the domain's
``Telephony`` port with AMI actions.
"""
