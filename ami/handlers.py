"""Routes every AMI event to the call service: translate, apply, keep for audit.

Which events matter, and what each becomes, is the table ``translate.TRANSLATORS``;
this module is the single entry point the AMI link calls for every event.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from ami.translate import raw_event, translate
from callcenter.calls.service import CallService

logger = logging.getLogger(__name__)


class AmiEventHandler:
    def __init__(self, calls: CallService) -> None:
        self._calls = calls

    def __call__(self, message: Mapping[str, Any], received_at: dt.datetime) -> None:
        event = translate(message, received_at)
        if event is not None:
            self._calls.handle(event)

        raw = raw_event(message, received_at)
        if raw is not None:
            self._calls.keep_raw(raw)
