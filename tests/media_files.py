"""Tiny real media files for upload tests, written with the standard library."""

from __future__ import annotations

import io
import math
import struct
import wave


def wav_bytes(seconds: float = 1.0, rate: int = 8000) -> bytes:
    """A mono 16-bit WAV of a quiet 440 Hz tone, `seconds` long (Chromium plays it)."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        frames = int(seconds * rate)
        wav.writeframes(b"".join(struct.pack("<h", int(2000 * math.sin(2 * math.pi * 440 * n / rate)))
                                 for n in range(frames)))
    return out.getvalue()
