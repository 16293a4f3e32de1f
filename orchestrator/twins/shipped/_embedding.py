"""Deterministic text embeddings for the ``openai`` twin: the same text always gives the same vector.

A vector is a hashed bag of the text's words and of their character trigrams (feature hashing:
each feature adds +1 or -1 at a position chosen by BLAKE2b, so no model and no randomness), then
scaled to unit length. Texts that share words point the same way, so a retrieval test against the
twin ranks related texts above unrelated ones; an empty text is a unit vector too. ``base64`` is
the little-endian float32 encoding the OpenAI API sends (and its SDK asks for by default).
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
import struct

__all__ = ["DEFAULT_DIMENSIONS", "embed", "encode_base64"]

DEFAULT_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
_WORD = re.compile(r"\w+")


def _features(text: str) -> list[tuple[str, float]]:
    words = _WORD.findall(text.casefold())
    features: list[tuple[str, float]] = [(f"w:{word}", 1.0) for word in words]
    for word in words:
        padded = f"<{word}>"
        features.extend((f"c:{padded[i : i + 3]}", 0.5) for i in range(len(padded) - 2))
    return features or [("empty", 1.0)]


def embed(text: str, dimensions: int) -> list[float]:
    """The unit vector of ``text`` in ``dimensions`` dimensions."""
    vector = [0.0] * dimensions
    for feature, weight in _features(text):
        digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
        number = int.from_bytes(digest, "little")
        vector[number % dimensions] += weight if number >> 63 else -weight
    norm = math.sqrt(sum(value * value for value in vector)) or 1.0
    return [value / norm for value in vector]


def encode_base64(vector: list[float]) -> str:
    """``vector`` as base64 of little-endian float32 values (the API's ``encoding_format: base64``)."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
