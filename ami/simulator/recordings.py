"""Recording files the way MixMonitor leaves them, written atomically.

The lab recorded with ``MixMonitor(<uniqueid>.wav,b)``: mono, 8 kHz, 16-bit PCM, and
only while the channel is bridged. A call that was never bridged still leaves a
44-byte WAV (header only) because MixMonitor opened the file before the answer. The
audio here is the captured ``sample-recording.wav`` looped to length (or silence), so a
CRM can play it back. Files appear in one rename, so a reader never sees half a file.

Everything in this module blocks on disk I/O: call it through ``asyncio.to_thread``.
"""

import functools
import logging
import os
import uuid
import wave
from pathlib import Path

logger = logging.getLogger(__name__)

SAMPLE_RATE = 8000
SAMPLE_WIDTH = 2


class UnsafeRecordingName(ValueError):
    """The MixMonitor file name would land outside the recordings folder."""


def safe_basename(path: str) -> str:
    """Last path component of a MixMonitor file name, refusing anything that is not a
    plain file name (``..``, empty, hidden)."""
    name = path.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if not name or name in (".", "..") or name.startswith("."):
        raise UnsafeRecordingName(path)

    return name


@functools.lru_cache(maxsize=4)
def _sample_frames(sample: Path) -> bytes:
    try:
        with wave.open(str(sample), "rb") as source:
            if (
                source.getnchannels(),
                source.getsampwidth(),
                source.getframerate(),
            ) != (
                1,
                SAMPLE_WIDTH,
                SAMPLE_RATE,
            ):
                logger.warning(
                    "sample recording has an unexpected format path=%s", sample
                )
                return b""

            return source.readframes(source.getnframes())
    except (OSError, wave.Error, EOFError):
        logger.warning("sample recording unreadable path=%s", sample, exc_info=True)
        return b""


def _audio(seconds: float, sample: Path | None) -> bytes:
    size = round(max(0.0, seconds) * SAMPLE_RATE) * SAMPLE_WIDTH
    if size == 0:
        return b""

    pattern = _sample_frames(sample) if sample is not None else b""
    if not pattern:
        return bytes(size)

    repeats = size // len(pattern) + 1
    return (pattern * repeats)[:size]


def write_recording(
    directory: Path, mixmonitor_path: str, seconds: float, sample: Path | None
) -> Path:
    """Write ``<directory>/<basename of mixmonitor_path>`` holding ``seconds`` of audio."""
    name = safe_basename(mixmonitor_path)
    root = directory.resolve()
    target = root / name
    if target.parent != root:
        raise UnsafeRecordingName(mixmonitor_path)

    temporary = root / f".{name}.{uuid.uuid4().hex}.tmp"
    try:
        with wave.open(str(temporary), "wb") as output:
            output.setnchannels(1)
            output.setsampwidth(SAMPLE_WIDTH)
            output.setframerate(SAMPLE_RATE)
            output.writeframes(_audio(seconds, sample))

        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise

    return target
