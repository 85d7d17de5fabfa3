"""Export a trained MLP or CNN to ONNX (opset 17), so it runs in ONNX Runtime, Netron...

The graph is built with ``onnx.helper`` and checked with ``onnx.checker``.  For an MLP:

``x (N, n0)`` -> [``(x - mean) / std``] -> ``Gemm`` (+ activation) per layer -> ``logits``
-> ``probs`` (``Softmax`` for several classes, ``Sigmoid`` for one logit, identity for
regression).

``Gemm`` with ``transB=1`` computes :math:`x W^\\top + b` with ``W`` in the engine's
``(out, in)`` layout, so weights are stored exactly as trained.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from engine import backend
from engine.io.atomic import atomic_path

OPSET = 17
HEADS = ("softmax", "sigmoid", "identity")


def _activation_nodes(helper, name: str, src: str, dst: str):
    if name == "linear":
        return [helper.make_node("Identity", [src], [dst])]
    if name == "relu":
        return [helper.make_node("Relu", [src], [dst])]
    if name == "tanh":
        return [helper.make_node("Tanh", [src], [dst])]
    if name == "sigmoid":
        return [helper.make_node("Sigmoid", [src], [dst])]
    if name == "leaky_relu":
        return [helper.make_node("LeakyRelu", [src], [dst], alpha=0.01)]
    if name == "elu":
        return [helper.make_node("Elu", [src], [dst], alpha=1.0)]
    if name == "softplus":
        return [helper.make_node("Softplus", [src], [dst])]
    raise ValueError(f"no ONNX mapping for activation {name!r}")


def mlp_to_onnx(model, head: str = "softmax", input_mean=None, input_std=None,
                name: str = "mathdl_mlp"):
    """Build the ``onnx.ModelProto`` of an :class:`engine.nn.MLP` (checked, in memory).

    Parameters
    ----------
    model : engine.nn.MLP
    head : {'softmax', 'sigmoid', 'identity'}
        How ``probs`` is made from ``logits``.
    input_mean, input_std : array_like, shape ``(n0,)``, optional
        Input standardisation applied by the app before the network; baked into the graph.
    """
    import onnx  # noqa: PLC0415  (only exports need it)
    from onnx import TensorProto, helper, numpy_helper  # noqa: PLC0415

    if head not in HEADS:
        raise ValueError(f"head must be one of {', '.join(HEADS)}, got {head!r}")
    sizes, acts = model.sizes, model.activations
    inits, nodes = [], []
    src = "x"
    if input_mean is not None or input_std is not None:
        mean = np.zeros(sizes[0], np.float32) if input_mean is None else input_mean
        std = np.ones(sizes[0], np.float32) if input_std is None else input_std
        mean = np.asarray(mean, np.float32).reshape(sizes[0])
        std = np.asarray(std, np.float32).reshape(sizes[0])
        inits += [numpy_helper.from_array(mean, "input_mean"),
                  numpy_helper.from_array(std, "input_std")]
        nodes += [helper.make_node("Sub", ["x", "input_mean"], ["x_centered"]),
                  helper.make_node("Div", ["x_centered", "input_std"], ["x_std"])]
        src = "x_std"
    n = len(model.layers)
    for i, lin in enumerate(model.layers):
        w = backend.to_numpy(lin.weight.data).astype(np.float32)
        b = backend.to_numpy(lin.bias.data).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"layers.{i}.weight"),
                  numpy_helper.from_array(b, f"layers.{i}.bias")]
        z = "logits" if i == n - 1 else f"z{i}"
        nodes.append(helper.make_node("Gemm", [src, f"layers.{i}.weight", f"layers.{i}.bias"],
                                      [z], transB=1))
        if i < n - 1:
            nodes += _activation_nodes(helper, acts[i], z, f"h{i}")
            src = f"h{i}"
    if head == "softmax":
        nodes.append(helper.make_node("Softmax", ["logits"], ["probs"], axis=-1))
    elif head == "sigmoid":
        nodes.append(helper.make_node("Sigmoid", ["logits"], ["probs"]))
    else:
        nodes.append(helper.make_node("Identity", ["logits"], ["probs"]))
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", sizes[0]])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", sizes[-1]]),
         helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", sizes[-1]])],
        inits)
    proto = helper.make_model(graph, producer_name="MathDL Playground",
                              opset_imports=[helper.make_opsetid("", OPSET)])
    proto.ir_version = 8  # readable by every ONNX Runtime since 1.10
    onnx.checker.check_model(proto, full_check=True)
    return proto


def cnn_to_onnx(model, head: str = "softmax", name: str = "mathdl_cnn"):
    """Build the ``onnx.ModelProto`` of an :class:`engine.nn.cnn.SmallCNN` (checked).

    ``x (N, C, H, W)`` -> per block ``Conv`` (same padding) -> activation -> ``MaxPool`` /
    ``AveragePool`` 2x2 -> ``Flatten`` or ``GlobalAveragePool`` -> ``Gemm`` -> ``logits``
    -> ``probs``.
    """
    import onnx  # noqa: PLC0415
    from onnx import TensorProto, helper, numpy_helper  # noqa: PLC0415

    if head not in HEADS:
        raise ValueError(f"head must be one of {', '.join(HEADS)}, got {head!r}")
    cfg = model.config
    k = cfg["kernel"]
    pad = (k - 1) // 2
    inits, nodes = [], []
    src = "x"
    for i, conv in enumerate(model.convs):
        inits += [numpy_helper.from_array(
            backend.to_numpy(conv.weight.data).astype(np.float32), f"convs.{i}.weight"),
            numpy_helper.from_array(
            backend.to_numpy(conv.bias.data).astype(np.float32), f"convs.{i}.bias")]
        nodes.append(helper.make_node("Conv", [src, f"convs.{i}.weight", f"convs.{i}.bias"],
                                      [f"c{i}"], kernel_shape=[k, k], pads=[pad] * 4))
        nodes += _activation_nodes(helper, cfg["activation"], f"c{i}", f"a{i}")
        src = f"a{i}"
        if cfg["pool"] != "none":
            op = "MaxPool" if cfg["pool"] == "max" else "AveragePool"
            nodes.append(helper.make_node(op, [src], [f"p{i}"], kernel_shape=[2, 2],
                                          strides=[2, 2]))
            src = f"p{i}"
    if cfg["head"] == "gap":
        nodes.append(helper.make_node("GlobalAveragePool", [src], ["gap"]))
        src = "gap"
    nodes.append(helper.make_node("Flatten", [src], ["flat"], axis=1))
    inits += [numpy_helper.from_array(
        backend.to_numpy(model.out.weight.data).astype(np.float32), "out.weight"),
        numpy_helper.from_array(backend.to_numpy(model.out.bias.data).astype(np.float32),
                                "out.bias")]
    nodes.append(helper.make_node("Gemm", ["flat", "out.weight", "out.bias"], ["logits"],
                                  transB=1))
    nodes.append(helper.make_node({"softmax": "Softmax", "sigmoid": "Sigmoid",
                                   "identity": "Identity"}[head], ["logits"], ["probs"],
                                  **({"axis": -1} if head == "softmax" else {})))
    c, h, w = cfg["input"]
    n_out = cfg["classes"]
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", c, h, w])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", n_out]),
         helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", n_out])],
        inits)
    proto = helper.make_model(graph, producer_name="MathDL Playground",
                              opset_imports=[helper.make_opsetid("", OPSET)])
    proto.ir_version = 8
    onnx.checker.check_model(proto, full_check=True)
    return proto


def export_onnx(path, model, head: str = "softmax", input_mean=None, input_std=None) -> Path:
    """Write the ONNX graph of an MLP or a SmallCNN to ``path`` atomically."""
    if hasattr(model, "convs"):
        proto = cnn_to_onnx(model, head)
    else:
        proto = mlp_to_onnx(model, head, input_mean, input_std)
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(proto.SerializeToString())
            fh.flush()
            os.fsync(fh.fileno())
    return path
