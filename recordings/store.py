"""Finds MixMonitor files in the recordings folder and measures them with pydub.

Asterisk finishes writing a recording only after the channel hangs up, so a probe
waits until the file exists and its size has stopped changing before it measures.
Every file name is confined to the configured folder: names with a directory part,
or that resolve outside the folder (``..``, symlinks), are refused.
"""

from __future__ import annotations

import asyncio
import logging
import re
import warnings
from pathlib import Path

from callcenter.ports import RecordingProbe, RecordingState

logger = logging.getLogger(__name__)

WAV_HEADER_BYTES = 44
_NAME_RE = re.compile(r"^[\w.\-]{1,150}\Z")

with warnings.catch_warnings():
    # pydub warns at import when ffmpeg is absent; WAV files need no ffmpeg.
    warnings.simplefilter("ignore", RuntimeWarning)
    from pydub import AudioSegment


def measure_seconds(path: Path) -> float:
    """Duration of an audio file in seconds (blocking: run it in a thread)."""
    kind = path.suffix.lower().lstrip(".") or "wav"
    segment = AudioSegment.from_file(path, format="wav" if kind == "wav49" else kind)
    return round(len(segment) / 1000.0, 2)


class FileRecordingStore:
    def __init__(
        self,
        folder: Path,
        *,
        settle_seconds: float = 0.5,
        wait_seconds: float = 120.0,
    ) -> None:
        self.folder = folder.resolve()
        self._settle = settle_seconds
        self._wait = wait_seconds

    def path_of(self, file_name: str) -> Path | None:
        """Blocking (it touches the disk): call it from a worker thread."""
        if not _NAME_RE.match(file_name) or file_name.startswith("."):
            return None
        path = (self.folder / file_name).resolve()
        if path.parent != self.folder or not path.is_file():
            return None
        return path

    def _size(self, file_name: str) -> tuple[Path | None, int | None]:
        path = self.path_of(file_name)
        return path, (path.stat().st_size if path is not None else None)

    async def probe(self, file_name: str) -> RecordingProbe:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._wait
        last_size: int | None = None
        while True:
            path, size = await asyncio.to_thread(self._size, file_name)
            if size is not None and size == last_size:
                break
            if loop.time() >= deadline:
                logger.warning(
                    "recording not found or still growing file=%s", file_name
                )
                return RecordingProbe(RecordingState.MISSING, size_bytes=size)
            last_size = size
            await asyncio.sleep(self._settle)

        assert path is not None and size is not None
        if size <= WAV_HEADER_BYTES:
            return RecordingProbe(
                RecordingState.EMPTY, size_bytes=size, duration_seconds=0.0
            )
        try:
            seconds = await asyncio.to_thread(measure_seconds, path)
        except Exception as error:  # noqa: BLE001 - a corrupt file must not stop us
            logger.warning("recording unreadable file=%s: %s", file_name, error)
            return RecordingProbe(RecordingState.MISSING, size_bytes=size)
        return RecordingProbe(
            RecordingState.READY, size_bytes=size, duration_seconds=seconds
        )
