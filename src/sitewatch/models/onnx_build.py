"""Build the ONNX graph of an Ultralytics YOLOv8-OBB checkpoint, with the ``onnx`` package alone.

Input: the module tree read by :mod:`sitewatch.models.torch_pickle` (no PyTorch).
Output: an ONNX model with the same interface as Ultralytics' own export
(``images`` [1, 3, S, S] float RGB 0..1 → ``output0`` [1, 4 + nc + 1, N] = cx, cy, w, h
in input pixels, nc class probabilities, angle in radians), so
:class:`sitewatch.detect.yolo_obb.YoloObbDetector` runs either file.

What each module computes (ultralytics 8.x, ``ultralytics/nn/modules``):

* ``Conv``: Conv2d (no bias, padding k//2) → BatchNorm2d → SiLU. BatchNorm is folded
  into the convolution (w·γ/√(σ²+ε), β − μ·γ/√(σ²+ε)); SiLU is ``x·sigmoid(x)``.
* ``C2f``: cv1 → split in two halves → each Bottleneck takes the last piece →
  concat(all pieces) → cv2. ``Bottleneck``: cv2(cv1(x)) (+ x when ``add``).
* ``SPPF``: cv1 → three chained k×k max-pools (stride 1) → concat(x, p1, p2, p3) → cv2.
* ``Upsample`` (nearest ×2), ``Concat`` (axis ``d``).
* ``OBB`` head, per level i: box = cv2[i] (4·reg_max distribution logits),
  cls = cv3[i], angle = cv4[i]; DFL = softmax over the reg_max bins · bin index;
  angle = (sigmoid − ¼)·π; ``dist2rbox``: centre offset ((rb − lt)/2) rotated by the angle
  plus the anchor point, size = lt + rb; all × the level's stride.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from numpy.typing import NDArray
from onnx import TensorProto, helper, numpy_helper

from sitewatch.errors import FormatError
from sitewatch.models.torch_pickle import Module

OPSET = 17


class _Graph:
    """Accumulates nodes and initialisers with unique names."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._n = 0

    def name(self, base: str) -> str:
        self._n += 1
        return f"{base}_{self._n}"

    def const(self, value: NDArray[Any], base: str = "c") -> str:
        n = self.name(base)
        self.inits.append(numpy_helper.from_array(np.asarray(value), n))
        return n

    def op(self, op_type: str, inputs: list[str], n_out: int = 1, **attrs: Any) -> list[str]:
        outs = [self.name(op_type.lower()) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=self.name(op_type), **attrs))
        return outs

    def op1(self, op_type: str, inputs: list[str], **attrs: Any) -> str:
        return self.op(op_type, inputs, 1, **attrs)[0]


def _f32(a: NDArray[Any] | None) -> NDArray[np.float32] | None:
    return None if a is None else np.asarray(a, dtype=np.float32)


def _conv2d(g: _Graph, x: str, conv: Module, bn: Module | None = None) -> str:
    """A Conv2d (BatchNorm folded in when given)."""
    w = _f32(conv.param("weight"))
    if w is None:
        raise FormatError(f"{conv.cls} has no weight")
    b = _f32(conv.param("bias"))
    if b is None:
        b = np.zeros(w.shape[0], np.float32)
    if bn is not None:
        gamma, beta = _f32(bn.param("weight")), _f32(bn.param("bias"))
        mean, var = _f32(bn.param("running_mean")), _f32(bn.param("running_var"))
        if gamma is None or beta is None or mean is None or var is None:
            raise FormatError(f"{bn.cls} lacks weight/bias/running statistics")
        k = gamma / np.sqrt(var + np.float32(bn.attr("eps", 1e-5)))
        w = w * k[:, None, None, None]
        b = (b - mean) * k + beta
    kh, kw = int(w.shape[2]), int(w.shape[3])
    stride = tuple(conv.attr("stride", (1, 1)))
    pad = tuple(conv.attr("padding", (kh // 2, kw // 2)))
    dil = tuple(conv.attr("dilation", (1, 1)))
    return g.op1("Conv", [x, g.const(w, "w"), g.const(b, "b")], kernel_shape=[kh, kw],
                 strides=list(stride), pads=[pad[0], pad[1], pad[0], pad[1]], dilations=list(dil),
                 group=int(conv.attr("groups", 1)))


def _silu(g: _Graph, x: str) -> str:
    return g.op1("Mul", [x, g.op1("Sigmoid", [x])])


def _block(g: _Graph, x: str, m: Module) -> str:
    """One ultralytics/torch module applied to tensor ``x``."""
    kind = m.kind
    if kind in ("Conv", "DWConv"):
        y = _conv2d(g, x, m.child("conv"), m.child("bn"))
        act = m.children.get("act")
        if act is None or act.kind == "SiLU":
            return _silu(g, y)
        if act.kind == "Identity":
            return y
        raise FormatError(f"activation {act.cls} is not supported")
    if kind == "Conv2d":
        return _conv2d(g, x, m)
    if kind == "Sequential":
        for _, sub in sorted(m.children.items(), key=lambda kv: int(kv[0])):
            x = _block(g, x, sub)
        return x
    if kind == "Bottleneck":
        y = _block(g, _block(g, x, m.child("cv1")), m.child("cv2"))
        return g.op1("Add", [x, y]) if m.attr("add", False) else y
    if kind == "C2f":
        c = int(m.attr("c"))
        y = _block(g, x, m.child("cv1"))
        pieces = g.op("Split", [y, g.const(np.asarray([c, c], np.int64), "split")], 2, axis=1)
        for _, b in sorted(m.child("m").children.items(), key=lambda kv: int(kv[0])):
            pieces.append(_block(g, pieces[-1], b))
        return _block(g, g.op1("Concat", pieces, axis=1), m.child("cv2"))
    if kind == "SPPF":
        y = _block(g, x, m.child("cv1"))
        pool = m.child("m")
        k = int(pool.attr("kernel_size", 5))
        p = int(pool.attr("padding", k // 2))
        outs = [y]
        for _ in range(3):
            outs.append(g.op1("MaxPool", [outs[-1]], kernel_shape=[k, k], strides=[1, 1], pads=[p, p, p, p]))
        return _block(g, g.op1("Concat", outs, axis=1), m.child("cv2"))
    if kind == "Upsample":
        if m.attr("mode") != "nearest":
            raise FormatError(f"Upsample mode {m.attr('mode')!r} is not supported")
        s = float(m.attr("scale_factor"))
        return g.op1("Resize", [x, "", g.const(np.asarray([1, 1, s, s], np.float32), "scales")],
                     mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    raise FormatError(f"module {m.cls} is not supported by the ONNX builder")


def _anchors(imgsz: int, strides: list[float]) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Anchor points (2, N) in grid units and the stride of each (1, N), level by level."""
    pts, strd = [], []
    for s in strides:
        n = math.ceil(imgsz / s)
        ys, xs = np.meshgrid(np.arange(n) + 0.5, np.arange(n) + 0.5, indexing="ij")
        pts.append(np.stack([xs.ravel(), ys.ravel()]))
        strd.append(np.full((1, n * n), s))
    return np.concatenate(pts, 1).astype(np.float32), np.concatenate(strd, 1).astype(np.float32)


def _obb_head(g: _Graph, feats: list[str], head: Module, imgsz: int) -> str:
    nc, reg_max = int(head.attr("nc")), int(head.attr("reg_max", 16))
    strides = [float(s) for s in np.asarray(head.attr("stride"), np.float64)]
    cv2, cv3, cv4 = (head.child(n).children for n in ("cv2", "cv3", "cv4"))
    no = 4 * reg_max + nc
    levels, angles = [], []
    for i, f in enumerate(feats):
        box = _block(g, f, cv2[str(i)])
        cls = _block(g, f, cv3[str(i)])
        levels.append(g.op1("Reshape", [g.op1("Concat", [box, cls], axis=1),
                                        g.const(np.asarray([1, no, -1], np.int64), "shape")]))
        angles.append(g.op1("Reshape", [_block(g, f, cv4[str(i)]),
                                        g.const(np.asarray([1, 1, -1], np.int64), "shape")]))
    cat = g.op1("Concat", levels, axis=2)
    box, cls = g.op("Split", [cat, g.const(np.asarray([4 * reg_max, nc], np.int64), "split")], 2, axis=1)
    # DFL: expected bin index of each side's distribution
    dist = g.op1("Reshape", [box, g.const(np.asarray([1, 4, reg_max, -1], np.int64), "shape")])
    prob = g.op1("Softmax", [dist], axis=2)
    bins = g.const(np.arange(reg_max, dtype=np.float32).reshape(1, 1, reg_max, 1), "bins")
    ltrb = g.op1("ReduceSum", [g.op1("Mul", [prob, bins]), g.const(np.asarray([2], np.int64), "axes")],
                 keepdims=0)
    angle = g.op1("Mul", [g.op1("Sub", [g.op1("Sigmoid", [g.op1("Concat", angles, axis=2)]),
                                        g.const(np.asarray(0.25, np.float32))]),
                          g.const(np.asarray(math.pi, np.float32))])
    lt, rb = g.op("Split", [ltrb, g.const(np.asarray([2, 2], np.int64), "split")], 2, axis=1)
    half = g.op1("Div", [g.op1("Sub", [rb, lt]), g.const(np.asarray(2.0, np.float32))])
    xf, yf = g.op("Split", [half, g.const(np.asarray([1, 1], np.int64), "split")], 2, axis=1)
    cos, sin = g.op1("Cos", [angle]), g.op1("Sin", [angle])
    x = g.op1("Sub", [g.op1("Mul", [xf, cos]), g.op1("Mul", [yf, sin])])
    y = g.op1("Add", [g.op1("Mul", [xf, sin]), g.op1("Mul", [yf, cos])])
    anchors, stride = _anchors(imgsz, strides)
    xy = g.op1("Add", [g.op1("Concat", [x, y], axis=1), g.const(anchors[None], "anchors")])
    dbox = g.op1("Mul", [g.op1("Concat", [xy, g.op1("Add", [lt, rb])], axis=1), g.const(stride[None], "strides")])
    return g.op1("Concat", [dbox, g.op1("Sigmoid", [cls]), angle], axis=1)


def build(checkpoint: dict[str, Any], imgsz: int | None = None) -> onnx.ModelProto:
    """The ONNX model of an Ultralytics OBB checkpoint (as read by ``torch_pickle.load``)."""
    model = checkpoint.get("ema") or checkpoint.get("model")
    if not isinstance(model, Module) or model.kind != "OBBModel":
        raise FormatError("checkpoint holds no Ultralytics OBBModel under 'model' or 'ema'")
    if imgsz is None:
        imgsz = int((checkpoint.get("train_args") or {}).get("imgsz", 1024))
    layers = sorted(model.child("model").children.items(), key=lambda kv: int(kv[0]))
    g = _Graph()
    outputs: list[str] = []
    x = "images"
    for _, m in layers:
        src = m.attr("f", -1)
        if m.kind == "OBB":
            x = _obb_head(g, [outputs[j] for j in src], m, imgsz)
        elif m.kind == "Concat":
            x = g.op1("Concat", [outputs[j] if j != -1 else x for j in src], axis=int(m.attr("d", 1)))
        else:
            x = _block(g, x if src == -1 else outputs[src], m)
        outputs.append(x)
    g.nodes.append(helper.make_node("Identity", [x], ["output0"], name="output"))
    names = model.attr("names") or {}
    n_anchor = sum(math.ceil(imgsz / s) ** 2 for s in np.asarray(model.attr("stride"), np.float64))
    graph = helper.make_graph(
        g.nodes, "yolov8-obb",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, imgsz, imgsz])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 4 + len(names) + 1, n_anchor])],
        g.inits,
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="sitewatch")
    proto.ir_version = 8
    meta = {"task": "obb", "imgsz": str([imgsz, imgsz]), "names": str(dict(names)),
            "stride": str(int(max(np.asarray(model.attr("stride"), np.float64)))),
            "description": "YOLOv8-OBB built by sitewatch from the PyTorch checkpoint without torch",
            "license": str(checkpoint.get("license", ""))}
    for k, v in meta.items():
        proto.metadata_props.append(onnx.StringStringEntryProto(key=k, value=v))
    onnx.checker.check_model(proto)
    return proto


def convert(pt_path: str | Path, onnx_path: str | Path, imgsz: int | None = None) -> Path:
    """Read ``pt_path`` without torch and write its ONNX graph to ``onnx_path`` (atomically)."""
    from sitewatch.models.torch_pickle import load

    proto = build(load(pt_path), imgsz)
    out = Path(onnx_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    onnx.save(proto, str(tmp))
    tmp.replace(out)
    return out
