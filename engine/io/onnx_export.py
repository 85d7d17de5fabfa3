r"""Export trained models to ONNX (opset 17), so they run in ONNX Runtime, Netron...

Every graph is built with ``onnx.helper``, checked with ``onnx.checker`` (``full_check``, so
shapes are inferred too) and reproduces the engine's *eval-mode* forward pass: no dropout,
batch norm on its running statistics.  Weights are stored exactly as trained (``float32``);
where an op wants another layout (``MatMul`` on ``x W^T``) the transposed copy is stored
under the parameter's name with a ``_T`` suffix.  ``N`` (batch) is a dynamic axis everywhere.

One builder per model kind, and :func:`model_to_onnx` / :func:`export_onnx` pick it:

* **MLP** (:func:`mlp_to_onnx`): ``x (N, n0)`` -> [``(x - mean) / std``] -> ``Gemm`` (+
  activation) per layer -> ``logits (N, K)`` -> ``probs`` (``Softmax`` for several classes,
  ``Sigmoid`` for one logit, identity for regression).  ``Gemm`` with ``transB=1`` computes
  :math:`x W^\top + b` with ``W`` in the engine's ``(out, in)`` layout.
* **SmallCNN** (:func:`cnn_to_onnx`): ``x (N, C, H, W)`` -> ``Conv`` / activation / pool per
  block -> ``Flatten`` or ``GlobalAveragePool`` -> ``Gemm`` -> ``logits``, ``probs``.
* **TinyTransformer** (:func:`transformer_to_onnx`): ``tokens`` int64 ``(N, L)``, ``L``
  dynamic in ``1..max_len`` -> ``Gather`` (embedding) + sliced positional table -> per
  encoder layer ``MatMul`` projections, ``Reshape``/``Transpose`` into heads, scaled scores,
  optional causal ``Where``, ``Softmax``, ``LayerNormalization``, ``Relu`` feed-forward ->
  ``logits (N, L, V_out)`` and ``probs`` (softmax over the last axis).
* **GAN generator** (:func:`generator_to_onnx`): ``z (N, latent)`` -> ``Gemm`` ->
  ``BatchNormalization`` (running statistics) -> ``Relu`` ... ``ConvTranspose`` (conv
  variant) -> ``Tanh`` -> ``images (N, 1, s, s)`` in (-1, 1) and ``pixels`` = the same
  images scaled to [0, 1] for display.
* **Autoencoder** (:func:`autoencoder_to_onnx`, AE / DAE / VAE): ``x (N, P)`` -> encoder
  ``Gemm`` stack -> ``code (N, d)`` (a VAE's mean :math:`\mu`; also ``logvar``) -> decoder ->
  ``Sigmoid`` -> ``reconstruction (N, P)``, exactly the lab's reconstruction
  :math:`\sigma(g_\phi(\mu(x)))` (no sampling).

Anything else (a flow, a transformer with a GELU feed-forward, batch norm without running
statistics) raises ``ValueError`` with the reason.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from engine import backend
from engine.autodiff.tensor import Tensor
from engine.io.atomic import atomic_path

OPSET = 17
IR_VERSION = 8  # readable by every ONNX Runtime since 1.10
HEADS = ("softmax", "sigmoid", "identity")
PRODUCER = "MathDL Playground"


# -- shared helpers -----------------------------------------------------------------------------
def _f32(array) -> np.ndarray:
    """A parameter or buffer (NumPy or CuPy, Tensor or array) as a float32 NumPy array."""
    data = array.data if isinstance(array, Tensor) else array
    return np.ascontiguousarray(backend.to_numpy(data), dtype=np.float32)


def _pair(v) -> list[int]:
    return [int(v), int(v)] if np.isscalar(v) else [int(a) for a in v]


class _Graph:
    """Collects nodes and initializers; ``op`` returns its output name so calls chain."""

    def __init__(self):
        from onnx import helper, numpy_helper  # only exports need onnx

        self.helper, self.numpy_helper = helper, numpy_helper
        self.nodes, self.inits = [], []
        self._names: set[str] = set()

    def const(self, name: str, array) -> str:
        """Add an initializer (once per name) and return its name."""
        if name not in self._names:
            self._names.add(name)
            self.inits.append(self.numpy_helper.from_array(np.asarray(array), name))
        return name

    def op(self, op_type: str, inputs, output, **attrs):
        """Add a node; ``output`` is a name (returned) or a list of names (``Split``)."""
        outs = [output] if isinstance(output, str) else list(output)
        self.nodes.append(self.helper.make_node(op_type, list(inputs), outs, **attrs))
        return output

    def ints(self, name: str, values) -> str:
        """An int64 1-D constant (shapes, axes, slice bounds)."""
        return self.const(name, np.asarray(values, np.int64))

    def gemm(self, src: str, lin, prefix: str, dst: str) -> str:
        """``dst = src W^T + b`` of a 2-D ``src (N, in)`` for an engine ``Linear``."""
        w = self.const(f"{prefix}.weight", _f32(lin.weight))
        ins = [src, w]
        if lin.bias is not None:
            ins.append(self.const(f"{prefix}.bias", _f32(lin.bias)))
        return self.op("Gemm", ins, dst, transB=1)

    def matmul(self, src: str, weight, bias, prefix: str, dst: str) -> str:
        """``dst = src W^T + b`` for ``src (..., in)`` of any rank (``MatMul`` then ``Add``);
        ``W`` is ``(out, in)`` as trained and is stored transposed as ``{prefix}.weight_T``."""
        w_t = self.const(f"{prefix}.weight_T", np.ascontiguousarray(_f32(weight).T))
        if bias is None:
            return self.op("MatMul", [src, w_t], dst)
        y = self.op("MatMul", [src, w_t], f"{dst}_mm")
        return self.op("Add", [y, self.const(f"{prefix}.bias", _f32(bias))], dst)

    def activation(self, name: str, src: str, dst: str) -> str:
        return _activation_nodes(self, name, src, dst)

    def finish(self, name: str, inputs, outputs):
        """Wrap into a checked ``ModelProto``; ``inputs``/``outputs`` are
        ``(name, elem_type, shape)`` triples (``shape`` may hold dim names)."""
        import onnx

        h = self.helper
        graph = h.make_graph(
            self.nodes, name,
            [h.make_tensor_value_info(n, t, s) for n, t, s in inputs],
            [h.make_tensor_value_info(n, t, s) for n, t, s in outputs],
            self.inits)
        proto = h.make_model(graph, producer_name=PRODUCER,
                             opset_imports=[h.make_opsetid("", OPSET)])
        proto.ir_version = IR_VERSION
        onnx.checker.check_model(proto, full_check=True)
        return proto


def _activation_nodes(g: _Graph, name: str, src: str, dst: str) -> str:
    """One activation node with the engine's constants (``leaky_relu`` 0.01, ``elu`` 1)."""
    simple = {"linear": "Identity", "relu": "Relu", "tanh": "Tanh", "sigmoid": "Sigmoid",
              "softplus": "Softplus"}
    if name in simple:
        return g.op(simple[name], [src], dst)
    if name == "leaky_relu":
        return g.op("LeakyRelu", [src], dst, alpha=0.01)
    if name == "elu":
        return g.op("Elu", [src], dst, alpha=1.0)
    raise ValueError(f"no ONNX mapping for activation {name!r}")


def _mlp_nodes(g: _Graph, mlp, src: str, prefix: str, dst: str) -> str:
    """The layers of an :class:`engine.nn.MLP` on ``src (N, n0)``: ``Gemm`` + activation per
    hidden layer, ``Gemm`` into ``dst (N, n_last)`` (the logits).  Dropout is eval-mode
    (absent).  Initializers are ``{prefix}layers.{i}.weight`` / ``.bias``."""
    acts = mlp.activations
    n = len(mlp.layers)
    for i, lin in enumerate(mlp.layers):
        z = dst if i == n - 1 else f"{prefix}z{i}"
        g.gemm(src, lin, f"{prefix}layers.{i}", z)
        if i < n - 1:
            src = g.activation(acts[i], z, f"{prefix}h{i}")
    return dst


def _head_node(g: _Graph, head: str, src: str = "logits", dst: str = "probs") -> str:
    if head not in HEADS:
        raise ValueError(f"head must be one of {', '.join(HEADS)}, got {head!r}")
    if head == "softmax":
        return g.op("Softmax", [src], dst, axis=-1)
    return g.op("Sigmoid" if head == "sigmoid" else "Identity", [src], dst)


def _batchnorm_node(g: _Graph, bn, src: str, prefix: str, dst: str) -> str:
    r"""``BatchNormalization`` in inference mode: :math:`\gamma (x - \mu_{run}) /
    \sqrt{\sigma^2_{run} + \epsilon} + \beta` per channel (axis 1), as the engine's eval mode."""
    if not bn.track_running_stats:
        raise ValueError(f"{prefix}: batch norm without running statistics normalises with "
                         "the batch's own statistics even in eval mode; ONNX export needs "
                         "track_running_stats=True")
    c = bn.num_features
    scale = _f32(bn.weight) if bn.affine else np.ones(c, np.float32)
    shift = _f32(bn.bias) if bn.affine else np.zeros(c, np.float32)
    ins = [src, g.const(f"{prefix}.weight", scale), g.const(f"{prefix}.bias", shift),
           g.const(f"{prefix}.running_mean", _f32(bn.running_mean)),
           g.const(f"{prefix}.running_var", _f32(bn.running_var))]
    return g.op("BatchNormalization", ins, dst, epsilon=float(bn.eps))


# -- MLP and CNN ----------------------------------------------------------------------------------
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

    Returns
    -------
    onnx.ModelProto
        Input ``x`` float32 ``(N, n0)``; outputs ``logits`` and ``probs``, ``(N, n_last)``.
    """
    from onnx import TensorProto

    if head not in HEADS:
        raise ValueError(f"head must be one of {', '.join(HEADS)}, got {head!r}")
    sizes = model.sizes
    g = _Graph()
    src = "x"
    if input_mean is not None or input_std is not None:
        mean = np.zeros(sizes[0], np.float32) if input_mean is None else input_mean
        std = np.ones(sizes[0], np.float32) if input_std is None else input_std
        mean = g.const("input_mean", np.asarray(mean, np.float32).reshape(sizes[0]))
        std = g.const("input_std", np.asarray(std, np.float32).reshape(sizes[0]))
        src = g.op("Div", [g.op("Sub", ["x", mean], "x_centered"), std], "x_std")
    _mlp_nodes(g, model, src, "", "logits")
    _head_node(g, head)
    f = TensorProto.FLOAT
    return g.finish(name, [("x", f, ["N", sizes[0]])],
                    [("logits", f, ["N", sizes[-1]]), ("probs", f, ["N", sizes[-1]])])


def cnn_to_onnx(model, head: str = "softmax", name: str = "mathdl_cnn"):
    """Build the ``onnx.ModelProto`` of an :class:`engine.nn.cnn.SmallCNN` (checked).

    ``x (N, C, H, W)`` -> per block ``Conv`` (same padding) -> activation -> ``MaxPool`` /
    ``AveragePool`` 2x2 -> ``Flatten`` or ``GlobalAveragePool`` -> ``Gemm`` -> ``logits``
    ``(N, classes)`` -> ``probs``.
    """
    from onnx import TensorProto

    if head not in HEADS:
        raise ValueError(f"head must be one of {', '.join(HEADS)}, got {head!r}")
    cfg = model.config
    k = cfg["kernel"]
    pad = (k - 1) // 2
    g = _Graph()
    src = "x"
    for i, conv in enumerate(model.convs):
        w = g.const(f"convs.{i}.weight", _f32(conv.weight))
        b = g.const(f"convs.{i}.bias", _f32(conv.bias))
        c = g.op("Conv", [src, w, b], f"c{i}", kernel_shape=[k, k], pads=[pad] * 4)
        src = g.activation(cfg["activation"], c, f"a{i}")
        if cfg["pool"] != "none":
            op = "MaxPool" if cfg["pool"] == "max" else "AveragePool"
            src = g.op(op, [src], f"p{i}", kernel_shape=[2, 2], strides=[2, 2])
    if cfg["head"] == "gap":
        src = g.op("GlobalAveragePool", [src], "gap")
    flat = g.op("Flatten", [src], "flat", axis=1)
    g.gemm(flat, model.out, "out", "logits")
    _head_node(g, head)
    c, h, w = cfg["input"]
    n_out = cfg["classes"]
    f = TensorProto.FLOAT
    return g.finish(name, [("x", f, ["N", c, h, w])],
                    [("logits", f, ["N", n_out]), ("probs", f, ["N", n_out])])


# -- transformer ----------------------------------------------------------------------------------
def transformer_to_onnx(model, name: str = "mathdl_transformer"):
    r"""Build the ``onnx.ModelProto`` of a
    :class:`engine.nn.tiny_transformer.TinyTransformer` (checked, in memory).

    The graph is the model's forward pass at temperature :math:`T = 1` (as trained):

    .. math:: H^{(0)} = E[x] + P_{0:L}, \qquad
              A = \mathrm{LN}_1\big(H^{(l-1)} + \mathrm{MHA}(H^{(l-1)})\big), \qquad
              H^{(l)} = \mathrm{LN}_2\big(A + \mathrm{FFN}(A)\big), \qquad
              Z = H^{(n)} W_{out}^\top + b_{out}

    (pre-norm layers, ``norm_first``, are exported as such).  Per layer the ``in_proj``
    weight is split into :math:`W^Q, W^K, W^V` (``layers.{i}.self_attn.{q,k,v}_proj``), each
    projection is reshaped to ``(N, L, h, d_k)`` and transposed to ``(N, h, L, d_k)``, the
    scores ``Q K^T`` are multiplied by the model's scale :math:`s(L)`, the causal mask (when
    the model has one) sets the future to :math:`-\infty` with ``Where``, and ``Softmax``
    over the keys gives the attention weights.

    Parameters
    ----------
    model : TinyTransformer
        Post-norm or pre-norm encoder layers with a ReLU feed-forward net.
    name : str
        Graph name.

    Returns
    -------
    onnx.ModelProto
        Input ``tokens``: int64 ``(N, L)``, tokens ``0..vocab-1``; both axes are dynamic,
        with ``1 <= L <= max_len``: the positional table and the causal mask are sliced to
        ``L`` in the graph and the scale :math:`s(L)` is looked up in a ``max_len`` table,
        so a longer sequence fails at run time (index out of bounds) as the engine refuses
        it; so does a token outside the vocabulary (the embedding ``Gather``).  Outputs
        ``logits`` float32 ``(N, L, out_vocab)`` and ``probs`` = ``Softmax(logits)`` over
        the last axis.

    Raises
    ------
    ValueError
        For anything but a TinyTransformer, or a feed-forward activation other than ReLU.
    """
    from onnx import TensorProto

    from engine.nn import functional as F
    from engine.nn.tiny_transformer import TinyTransformer, attention_scale

    if not isinstance(model, TinyTransformer):
        raise ValueError(f"transformer_to_onnx needs a TinyTransformer, got "
                         f"{type(model).__name__}")
    for i, layer in enumerate(model.layers):
        if layer.act is not F.relu:
            raise ValueError(f"layer {i} has a non-ReLU feed-forward activation; ONNX export "
                             "maps the ReLU feed-forward net only")
    c = model.config
    d, heads, dk, max_len = c["d_model"], c["heads"], model.head_dim, c["max_len"]
    g = _Graph()

    # L as a 1-element int64 tensor, read off the input: everything length-dependent is
    # sliced from a max_len table with it.
    seq_len = g.op("Shape", ["tokens"], "seq_len", start=1, end=2)
    h = g.op("Gather", [g.const("embed.weight", _f32(model.embed.weight)), "tokens"],
             "embedded", axis=0)                                          # (N, L, d)
    if c["pos"] != "none":
        table = g.const("positional_table", _f32(model.positional_encoding()))
        zero = g.ints("zero", [0])
        pos = g.op("Slice", [table, zero, seq_len, zero], "positions")  # (L, d)
        h = g.op("Add", [h, pos], "h0")

    # Score scale s(L), looked up by length in a table the engine's own attention_scale
    # fills (so the float32 factor is the one it multiplies by; constant unless the scale is
    # the book's 1/sqrt(n)).  The lookup also refuses L > max_len: Gather checks its bounds.
    table = np.array([attention_scale(c["scale"], dk, n) for n in range(1, max_len + 1)],
                     np.float32)
    idx = g.op("Sub", [seq_len, g.ints("one", [1])], "seq_len_minus_1")
    scale = g.op("Gather", [g.const("score_scale_table", table), idx], "score_scale",
                 axis=0)                                                  # (1,)
    if c["causal"]:
        allowed = g.const("causal_allowed", np.tril(np.ones((max_len, max_len), bool)))
        ends = g.op("Concat", [seq_len, seq_len], "seq_len_2", axis=0)
        allowed = g.op("Slice", [allowed, g.ints("zeros_2", [0, 0]), ends,
                                 g.ints("axes_01", [0, 1])], "causal_allowed_L")  # (L, L)
        neg_inf = g.const("neg_inf", np.float32(-np.inf))
    heads_shape = g.ints("heads_shape", [0, 0, heads, dk])                # (N, L, h, d_k)
    merged_shape = g.ints("merged_shape", [0, 0, d])

    def layer_norm(src, norm, prefix, dst):
        weight = _f32(norm.weight) if norm.weight is not None else np.ones(d, np.float32)
        bias = _f32(norm.bias) if norm.bias is not None else np.zeros(d, np.float32)
        return g.op("LayerNormalization", [src, g.const(f"{prefix}.weight", weight),
                                           g.const(f"{prefix}.bias", bias)],
                    dst, axis=-1, epsilon=float(norm.eps))

    def self_attention(x, attn, p):
        """Multi-head self-attention of ``x (N, L, d)`` -> ``(N, L, d)``."""
        w, b = _f32(attn.in_proj_weight), attn.in_proj_bias
        b = None if b is None else _f32(b)
        proj = {}
        for j, part in enumerate("qkv"):
            y = g.matmul(x, w[j * d:(j + 1) * d], None if b is None else b[j * d:(j + 1) * d],
                         f"{p}.{part}_proj", f"{p}.{part}")
            y = g.op("Reshape", [y, heads_shape], f"{p}.{part}_heads")
            # q, v -> (N, h, L, d_k); k -> (N, h, d_k, L), i.e. already K^T
            perm = [0, 2, 3, 1] if part == "k" else [0, 2, 1, 3]
            proj[part] = g.op("Transpose", [y], f"{p}.{part}_t", perm=perm)
        scores = g.op("MatMul", [proj["q"], proj["k"]], f"{p}.qk")        # (N, h, L, L)
        scores = g.op("Mul", [scores, scale], f"{p}.scores")
        if c["causal"]:
            scores = g.op("Where", [allowed, scores, neg_inf], f"{p}.scores_masked")
        weights = g.op("Softmax", [scores], f"{p}.attention", axis=-1)
        ctx = g.op("MatMul", [weights, proj["v"]], f"{p}.context")        # (N, h, L, d_k)
        ctx = g.op("Transpose", [ctx], f"{p}.context_t", perm=[0, 2, 1, 3])
        ctx = g.op("Reshape", [ctx, merged_shape], f"{p}.context_merged")  # (N, L, d)
        return g.matmul(ctx, attn.out_proj.weight, attn.out_proj.bias, f"{p}.out_proj",
                        f"{p}.attn_out")

    def feed_forward(x, layer, pre):
        a = g.matmul(x, layer.linear1.weight, layer.linear1.bias, f"{pre}.linear1",
                     f"{pre}.ff_hidden")
        a = g.op("Relu", [a], f"{pre}.ff_relu")
        return g.matmul(a, layer.linear2.weight, layer.linear2.bias, f"{pre}.linear2",
                        f"{pre}.ff_out")

    for i, layer in enumerate(model.layers):
        p = f"layers.{i}"
        attn_prefix = f"{p}.self_attn"
        if layer.norm_first:
            n1 = layer_norm(h, layer.norm1, f"{p}.norm1", f"{p}.norm1_out")
            x = g.op("Add", [h, self_attention(n1, layer.self_attn, attn_prefix)],
                     f"{p}.residual1")
            n2 = layer_norm(x, layer.norm2, f"{p}.norm2", f"{p}.norm2_out")
            h = g.op("Add", [x, feed_forward(n2, layer, p)], f"{p}.out")
        else:
            x = g.op("Add", [h, self_attention(h, layer.self_attn, attn_prefix)],
                     f"{p}.residual1")
            x = layer_norm(x, layer.norm1, f"{p}.norm1", f"{p}.norm1_out")
            y = g.op("Add", [x, feed_forward(x, layer, p)], f"{p}.residual2")
            h = layer_norm(y, layer.norm2, f"{p}.norm2", f"{p}.out")
    g.matmul(h, model.head.weight, model.head.bias, "head", "logits")
    _head_node(g, "softmax")
    f, v = TensorProto.FLOAT, c["out_vocab"]
    return g.finish(name, [("tokens", TensorProto.INT64, ["N", "L"])],
                    [("logits", f, ["N", "L", v]), ("probs", f, ["N", "L", v])])


# -- GAN generator --------------------------------------------------------------------------------
def generator_to_onnx(gan, name: str = "mathdl_gan_generator"):
    r"""Build the ``onnx.ModelProto`` of the generator of a
    :class:`engine.labs.image_gan.DigitGAN` (the discriminator is not exported).

    MLP variant: ``z`` -> (``Gemm`` -> ``BatchNormalization`` -> ``Relu``) x 2 -> ``Gemm``
    -> ``Tanh`` -> ``Reshape``.  Conv variant: ``z`` -> ``Gemm`` -> ``Reshape`` to
    ``(N, 2C, s/4, s/4)`` -> ``BatchNormalization`` -> ``Relu`` -> ``ConvTranspose``
    (kernel 4, stride 2, pads 1: :math:`s/4 \to s/2`) -> ``BatchNormalization`` -> ``Relu``
    -> ``ConvTranspose`` (:math:`s/2 \to s`) -> ``Tanh``.  Batch norm uses the running
    mean and variance (the engine's eval mode), so an image does not depend on its batch.

    Parameters
    ----------
    gan : DigitGAN or Generator
    name : str
        Graph name.

    Returns
    -------
    onnx.ModelProto
        Input ``z`` float32 ``(N, latent)`` (noise, :math:`\mathcal N(0, I)` in training).
        Outputs ``images`` float32 ``(N, 1, s, s)`` in :math:`(-1, 1)` (the generator's
        tanh output) and ``pixels`` ``(N, 1, s, s)`` = ``clip((images + 1) / 2, 0, 1)``, the
        lab's display scaling.
    """
    from onnx import TensorProto

    from engine.labs.image_gan import DigitGAN, Generator

    if isinstance(gan, DigitGAN):
        gen = gan.generator
    elif isinstance(gan, Generator):
        gen = gan
    else:
        raise ValueError(f"generator_to_onnx needs a DigitGAN or its Generator, got "
                         f"{type(gan).__name__}")
    s = gen.size
    latent = gen.fc1.in_features
    g = _Graph()
    if gen.arch == "mlp":
        h = g.gemm("z", gen.fc1, "fc1", "fc1_out")
        h = g.op("Relu", [_batchnorm_node(g, gen.bn1, h, "bn1", "bn1_out")], "h1")
        h = g.gemm(h, gen.fc2, "fc2", "fc2_out")
        h = g.op("Relu", [_batchnorm_node(g, gen.bn2, h, "bn2", "bn2_out")], "h2")
        h = g.op("Tanh", [g.gemm(h, gen.out, "out", "out_logits")], "flat_images")
        images = g.op("Reshape", [h, g.ints("image_shape", [-1, 1, s, s])], "images")
    else:
        h = g.gemm("z", gen.fc1, "fc1", "fc1_out")
        h = g.op("Reshape", [h, g.ints("map_shape", [-1, 2 * gen.c, gen.s4, gen.s4])],
                 "fc1_map")
        h = g.op("Relu", [_batchnorm_node(g, gen.bn1, h, "bn1", "bn1_out")], "h1")
        h = _conv_transpose_node(g, gen.up1, h, "up1", "up1_out")
        h = g.op("Relu", [_batchnorm_node(g, gen.bn2, h, "bn2", "bn2_out")], "h2")
        h = _conv_transpose_node(g, gen.out, h, "out", "out_logits")
        images = g.op("Tanh", [h], "images")
    shifted = g.op("Add", [images, g.const("one_f", np.float32(1.0))], "images_plus_1")
    halved = g.op("Div", [shifted, g.const("two_f", np.float32(2.0))], "images_halved")
    g.op("Clip", [halved, g.const("zero_f", np.float32(0.0)), "one_f"], "pixels")
    f = TensorProto.FLOAT
    return g.finish(name, [("z", f, ["N", latent])],
                    [("images", f, ["N", 1, s, s]), ("pixels", f, ["N", 1, s, s])])


def _conv_transpose_node(g: _Graph, conv, src: str, prefix: str, dst: str) -> str:
    """``ConvTranspose`` with the layer's stride, padding, output padding, dilation and groups;
    the engine's weight ``(C_in, C_out/groups, kh, kw)`` is ONNX's layout as it is."""
    w = _f32(conv.weight)
    ins = [src, g.const(f"{prefix}.weight", w)]
    if conv.bias is not None:
        ins.append(g.const(f"{prefix}.bias", _f32(conv.bias)))
    p = _pair(conv.padding)
    return g.op("ConvTranspose", ins, dst, kernel_shape=list(w.shape[2:]),
                strides=_pair(conv.stride), pads=p + p, dilations=_pair(conv.dilation),
                output_padding=_pair(conv.output_padding), group=int(conv.groups))


# -- autoencoder ----------------------------------------------------------------------------------
def autoencoder_to_onnx(model, name: str = "mathdl_autoencoder"):
    r"""Build the ``onnx.ModelProto`` of an :class:`engine.labs.autoencoder.Autoencoder`
    (AE, DAE or VAE): encoder and decoder in one graph.

    ``x`` -> encoder ``Gemm`` stack -> ``code`` (for a VAE the encoder's output is split into
    :math:`\mu` and :math:`\log\sigma^2`, and the code is :math:`\mu`: no sampling) ->
    decoder ``Gemm`` stack -> ``Sigmoid`` -> ``reconstruction``.  This is the lab's
    reconstruction :math:`\hat x = \sigma(g_\phi(\mu(x)))`; a DAE is simply fed the noisy
    digit.  The lab centres digits on their centre of mass before encoding (unless that
    option is off); the graph expects inputs prepared the same way.

    Parameters
    ----------
    model : Autoencoder
    name : str
        Graph name.

    Returns
    -------
    onnx.ModelProto
        Input ``x`` float32 ``(N, P)``, flattened images with pixels in [0, 1] (``P = 256``
        in the lab).  Outputs ``code`` ``(N, d)``, then for a VAE ``logvar`` ``(N, d)``, then
        ``reconstruction`` ``(N, P)`` in (0, 1).
    """
    from onnx import TensorProto

    from engine.labs.autoencoder import Autoencoder

    if not isinstance(model, Autoencoder):
        raise ValueError(f"autoencoder_to_onnx needs an Autoencoder, got "
                         f"{type(model).__name__}")
    cfg = model.config
    p, d = cfg["input"], cfg["latent"]
    f = TensorProto.FLOAT
    g = _Graph()
    outputs = [("code", f, ["N", d])]
    if model.variational:
        enc = _mlp_nodes(g, model.encoder, "x", "encoder.", "encoder_out")  # (N, 2d)
        g.op("Split", [enc, g.ints("split_mu_logvar", [d, d])], ["code", "logvar"], axis=1)
        outputs.append(("logvar", f, ["N", d]))
    else:
        _mlp_nodes(g, model.encoder, "x", "encoder.", "code")
    logits = _mlp_nodes(g, model.decoder, "code", "decoder.", "decoder_logits")
    g.op("Sigmoid", [logits], "reconstruction")
    outputs.append(("reconstruction", f, ["N", p]))
    return g.finish(name, [("x", f, ["N", p])], outputs)


# -- recurrent -------------------------------------------------------------------------------------
#: Rows of PyTorch's gate blocks in ONNX's order: LSTM i,f,g,o -> i,o,f,c; GRU r,z,n -> z,r,h.
_ONNX_GATE_ORDER = {"lstm": [0, 3, 1, 2], "gru": [1, 0, 2], "rnn": [0]}


def sequence_model_to_onnx(model, name: str = "mathdl_recurrent"):
    r"""Build the ``onnx.ModelProto`` of the recurrent lab's
    :class:`engine.labs.recurrent.SequenceModel`: one RNN, LSTM or GRU layer and a linear
    read-out of every state.

    ONNX's ``RNN``/``LSTM``/``GRU`` ops hold the same weights as PyTorch with the gate blocks
    in another order (LSTM ``i, o, f, c``; GRU ``z, r, h``), so the rows are permuted on
    export; the GRU uses ``linear_before_reset = 1``, PyTorch's form, where the reset gate
    scales :math:`W_{hn} h + b_{hn}`.

    Returns
    -------
    onnx.ModelProto
        Input ``x`` float32 ``(N, T, D)`` (one-hot tokens for the recall task, the sine's
        values for the sine task); output ``y`` ``(N, T, O)``: the read-out of every state
        (logits for recall, the predicted next value for sine).
    """
    from onnx import TensorProto

    from engine.labs.recurrent import SequenceModel

    if not isinstance(model, SequenceModel):
        raise ValueError(f"sequence_model_to_onnx needs a SequenceModel, got "
                         f"{type(model).__name__}")
    cfg = model.config
    cell, d_in, H, d_out = cfg["cell"], cfg["n_in"], cfg["hidden"], cfg["n_out"]
    rnn = model.rnn
    order = _ONNX_GATE_ORDER[cell]

    def blocks(a):          # (G*H, ...) in PyTorch's gate order -> ONNX's, with a direction axis
        a = _f32(a)
        return np.concatenate([a[k * H:(k + 1) * H] for k in order])[None]

    g = _Graph()
    w = g.const("rnn.W", blocks(rnn.weight_ih_l0))
    r = g.const("rnn.R", blocks(rnn.weight_hh_l0))
    b = g.const("rnn.B", np.concatenate([blocks(rnn.bias_ih_l0), blocks(rnn.bias_hh_l0)], 1))
    xt = g.op("Transpose", ["x"], "x_time_first", perm=[1, 0, 2])          # (T, N, D)
    attrs = {"hidden_size": H}
    op = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}[cell]
    if cell == "rnn":
        attrs["activations"] = ["Tanh" if rnn.nonlinearity == "tanh" else "Relu"]
    if cell == "gru":
        attrs["linear_before_reset"] = 1
    g.op(op, [xt, w, r, b], ["states"], **attrs)                           # (T, 1, N, H)
    h = g.op("Squeeze", ["states", g.ints("dir_axis", [1])], "states_tnh")
    h = g.op("Transpose", [h], "states_nth", perm=[1, 0, 2])                 # (N, T, H)
    g.matmul(h, model.head.weight, model.head.bias, "head", "y")
    f = TensorProto.FLOAT
    return g.finish(name, [("x", f, ["N", "T", d_in])], [("y", f, ["N", "T", d_out])])


# -- dispatch and files ---------------------------------------------------------------------------
def model_to_onnx(model, head: str | None = None, input_mean=None, input_std=None):
    """The checked ``onnx.ModelProto`` of any exportable model, by its kind.

    Parameters
    ----------
    model : MLP, SmallCNN, TinyTransformer, DigitGAN / Generator or Autoencoder
    head : {'softmax', 'sigmoid', 'identity'}, optional
        ``probs`` of an MLP or CNN (default ``'softmax'``); not accepted for other kinds.
    input_mean, input_std : array_like, optional
        MLP input standardisation (see :func:`mlp_to_onnx`).

    Raises
    ------
    ValueError
        For a model kind without an exporter, or options the kind does not take.
    """
    # Imported here, not at the top: the labs import this module.
    from engine.labs.autoencoder import Autoencoder
    from engine.labs.image_gan import DigitGAN, Generator
    from engine.nn.cnn import SmallCNN
    from engine.nn.mlp import MLP
    from engine.nn.tiny_transformer import TinyTransformer

    if isinstance(model, SmallCNN):
        return cnn_to_onnx(model, head or "softmax")
    if isinstance(model, MLP):
        return mlp_to_onnx(model, head or "softmax", input_mean, input_std)
    from engine.labs.recurrent import SequenceModel

    builders = ((TinyTransformer, transformer_to_onnx),
                ((DigitGAN, Generator), generator_to_onnx),
                (Autoencoder, autoencoder_to_onnx),
                (SequenceModel, sequence_model_to_onnx))
    for kind, build in builders:
        if isinstance(model, kind):
            if head is not None or input_mean is not None or input_std is not None:
                raise ValueError(f"head and input standardisation apply to MLPs and CNNs, "
                                 f"not to a {type(model).__name__}")
            return build(model)
    raise ValueError(f"ONNX export covers MLPs, CNNs, tiny transformers, GAN generators, "
                     f"autoencoders and recurrent sequence models, not a "
                     f"{type(model).__name__}")


def export_onnx(path, model, head: str | None = None, input_mean=None,
                input_std=None) -> Path:
    """Write the ONNX graph of ``model`` (see :func:`model_to_onnx`) to ``path`` atomically:
    a reader sees the old file or the complete new one, and on error nothing is written."""
    proto = model_to_onnx(model, head, input_mean, input_std)
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(proto.SerializeToString())
        fh.flush()
        os.fsync(fh.fileno())
    return path
