"""Trained models as safetensors files: weights plus a JSON description, never pickle.

A file holds every parameter under its ``state_dict`` name and, in the safetensors metadata
(string -> string):

``format``           ``"mathdl-model"``
``format_version``   ``"1"``
``architecture``     JSON: ``{"kind": ..., ...config}`` (a key of :data:`ARCHITECTURES`);
                     the network is rebuilt from it
``hyperparameters``  JSON object (optimizer, learning rate, loss, ...), informational
``task``             JSON object (input normalisation, class count, dataset), for the labs
``seed``, ``step``   integers as text
``lab``              the lab that trained it

Loading trusts nothing: the header is parsed by the safetensors library (no code execution),
the architecture is validated, the network is rebuilt from it and every tensor must match the
rebuilt network's names, shapes and dtypes and be finite.  Any failure raises
:class:`ModelFileError` with a reason, and nothing has been changed.
"""
from __future__ import annotations

import dataclasses
import importlib
import json
import os
from pathlib import Path
from typing import Callable

import numpy as np
import safetensors
import safetensors.numpy

from engine import backend
from engine.io.atomic import atomic_path

FORMAT = "mathdl-model"
FORMAT_VERSION = 1
MAX_BYTES = 512 * 1024 ** 2
_DTYPES = (np.float32, np.float64)


class ModelFileError(ValueError):
    """A model file that cannot be used, with the reason in words."""


#: Architecture kind -> ``"module:validate_function:ModelClass"``.  ``validate(config)``
#: returns a clean config or raises ``ValueError``; ``ModelClass.from_config(clean)`` builds
#: the network.  Imported lazily, so a model kind costs nothing until a file uses it.
ARCHITECTURES: dict[str, str] = {
    "mlp": "engine.nn.mlp:validate_config:MLP",
    "cnn": "engine.nn.cnn:validate_cnn_config:SmallCNN",
    "autoencoder": "engine.labs.autoencoder:validate_autoencoder_config:Autoencoder",
    "image_gan": "engine.labs.image_gan:validate_gan_config:DigitGAN",
    "realnvp2d": "engine.flows:validate_flow_config:RealNVP2D",
    "transformer": "engine.nn.tiny_transformer:validate_transformer_config:TinyTransformer",
    "recurrent": "engine.labs.recurrent:validate_sequence_config:SequenceModel",
}


def _architecture(kind: str) -> tuple[Callable, Callable]:
    module, validate, cls = ARCHITECTURES[kind].split(":")
    mod = importlib.import_module(module)
    return getattr(mod, validate), getattr(mod, cls).from_config


@dataclasses.dataclass
class ModelFile:
    """A loaded model and what its file says about it."""

    model: object
    architecture: dict
    hyperparameters: dict
    task: dict
    seed: int
    step: int
    lab: str


def save_model(path, model, architecture: dict, *, hyperparameters=None, task=None,
               seed: int = 0, step: int = 0, lab: str = "") -> Path:
    """Write ``model``'s parameters and description to ``path`` atomically.

    ``architecture`` must contain ``kind`` plus the config that rebuilds ``model``; it is
    validated here too, so a file this function writes always loads.
    """
    arch = dict(architecture)
    kind = arch.pop("kind", None)
    if kind not in ARCHITECTURES:
        raise ValueError(f"architecture kind must be one of {', '.join(ARCHITECTURES)}, "
                         f"got {kind!r}")
    clean = {"kind": kind, **_architecture(kind)[0](arch)}
    tensors = {name: np.ascontiguousarray(backend.to_numpy(a))
               for name, a in model.state_dict().items()}
    meta = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "architecture": json.dumps(clean),
        "hyperparameters": json.dumps(hyperparameters or {}, default=_plain),
        "task": json.dumps(task or {}, default=_plain),
        "seed": str(int(seed)),
        "step": str(int(step)),
        "lab": str(lab),
    }
    blob = safetensors.numpy.save(tensors, metadata=meta)
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(blob)
            fh.flush()
            os.fsync(fh.fileno())
    return path


def _plain(obj):
    """JSON fallback for NumPy scalars and arrays in hyperparameters."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON-serialisable")


def _json_field(meta: dict, key: str, required: bool) -> dict:
    raw = meta.get(key)
    if raw is None:
        if required:
            raise ModelFileError(f"the file has no {key!r} entry in its metadata")
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"the {key!r} metadata is not valid JSON ({exc.msg})") from None
    if not isinstance(value, dict):
        raise ModelFileError(f"the {key!r} metadata must be a JSON object")
    return value


def _int_field(meta: dict, key: str) -> int:
    try:
        return int(meta.get(key, "0"))
    except ValueError:
        raise ModelFileError(f"the {key!r} metadata must be an integer, got "
                             f"{meta.get(key)!r}") from None


def read_model(path, expect: tuple[str, str] | None = None) -> ModelFile:
    """Load and validate a model file; :class:`ModelFileError` says why one is refused.

    ``expect = (kind, description)`` refuses files of another architecture kind before any
    network is built ("this lab loads CNNs; the file holds an mlp network").
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ModelFileError(f"cannot read {path}: {exc.strerror}") from None
    if size > MAX_BYTES:
        raise ModelFileError(f"{path.name} is {size / 1024 ** 2:.0f} MB; model files are "
                             f"limited to {MAX_BYTES // 1024 ** 2} MB")
    data = path.read_bytes()
    try:
        tensors = safetensors.numpy.load(data)
        with safetensors.safe_open(str(path), framework="numpy") as fh:
            meta = fh.metadata() or {}
    except Exception as exc:  # the library's errors for truncated or foreign bytes vary
        raise ModelFileError(f"{path.name} is not a readable safetensors file (truncated or "
                             f"another format): {exc}") from None
    if meta.get("format") != FORMAT:
        raise ModelFileError(f"{path.name} is a safetensors file but not a MathDL model (its "
                             f"format is {meta.get('format')!r}, expected {FORMAT!r})")
    version = _int_field(meta, "format_version")
    if version != FORMAT_VERSION:
        raise ModelFileError(f"{path.name} has model format version {version}; this app reads "
                             f"version {FORMAT_VERSION}")
    arch = _json_field(meta, "architecture", required=True)
    kind = arch.pop("kind", None)
    if kind not in ARCHITECTURES:
        raise ModelFileError(f"unknown architecture kind {kind!r}; known: "
                             f"{', '.join(ARCHITECTURES)}")
    if expect is not None and kind != expect[0]:
        raise ModelFileError(f"this lab loads {expect[1]}; the file holds a {kind} network")
    validate, build = _architecture(kind)
    try:
        config = validate(arch)
    except ValueError as exc:
        raise ModelFileError(f"invalid architecture in {path.name}: {exc}") from None
    model = build(config)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        raise ModelFileError(f"the weights in {path.name} do not match its architecture "
                             f"(missing: {', '.join(missing) or 'none'}; unexpected: "
                             f"{', '.join(extra) or 'none'})")
    for name, arr in tensors.items():
        want = tuple(expected[name].shape)
        if arr.dtype not in _DTYPES:
            raise ModelFileError(f"tensor {name!r} has dtype {arr.dtype}; float32 or float64 "
                                 "is required")
        if arr.shape != want:
            raise ModelFileError(f"tensor {name!r} has shape {arr.shape}; the architecture "
                                 f"needs {want}")
        if not np.all(np.isfinite(arr)):
            raise ModelFileError(f"tensor {name!r} holds inf or NaN values")
    model.load_state_dict(tensors)
    return ModelFile(model=model, architecture={"kind": kind, **config},
                     hyperparameters=_json_field(meta, "hyperparameters", required=False),
                     task=_json_field(meta, "task", required=False),
                     seed=_int_field(meta, "seed"), step=_int_field(meta, "step"),
                     lab=str(meta.get("lab", "")))
