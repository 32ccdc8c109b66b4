"""PyTorch values as data: tensors, dtypes, devices, CPU generators, allow-listed modules and optimizers.

A module crosses when it and each of its submodules is of a class of
:data:`TORCH_MODULES` or :data:`COURSE_MODULES` (never a subclass), with its
parameters, buffers, submodules and plain settings; an optimizer when it is of a
class of :data:`TORCH_OPTIMIZERS`, with its settings and state. Decoding builds
fresh objects of those classes without running any constructor the other side
could choose. The methods here belong to the codec's
:class:`~dlcourse.grading.codec.Encoder` and
:class:`~dlcourse.grading.codec.Decoder`. Encoding never imports PyTorch (that
takes seconds: a value can be a tensor only where it is imported already);
decoding imports it when the other side sent a tensor.

Example:
    >>> module_class("os.system") is None
    True
"""

from __future__ import annotations

import math
import re
from typing import Any

from dlcourse.grading.codec_common import MAX_DIMENSIONS, CodecError, _numpy, _torch, _type_name

TORCH_DTYPES = ("float16", "bfloat16", "float32", "float64", "complex64", "complex128", "int8", "int16", "int32",
                "int64", "uint8", "bool")
"""PyTorch dtypes a tensor may have."""

TORCH_MODULES = (
    "Sequential", "ModuleList", "ModuleDict", "Identity", "Linear", "Bilinear", "Flatten", "Unflatten",
    "Embedding", "Dropout", "AlphaDropout", "BatchNorm1d", "LayerNorm",
    "ReLU", "ReLU6", "LeakyReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish", "Sigmoid", "Tanh", "Hardtanh",
    "Hardsigmoid", "Hardswish", "Softplus", "Softsign", "Softmax", "LogSoftmax", "LogSigmoid", "PReLU", "Threshold",
    "CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss", "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss",
)
"""``torch.nn`` classes a module (or any of its submodules) may be."""

COURSE_MODULES = ("course_utils.checks_torch.ForwardRecorder",)
"""The course's own module classes that may cross (test helpers whose records are data)."""

TORCH_OPTIMIZERS = ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad")
"""``torch.optim`` classes an optimizer may be."""

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,99}$")
_PART_NAME = re.compile(r"^[A-Za-z0-9_]{1,100}$")
_MODULE_INTERNALS = frozenset({"training", "_parameters", "_buffers", "_modules"})


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def module_class(name: str) -> type | None:
    """The allowed module class called ``name`` (``torch.nn.Linear`` style), or ``None``.

    Example:
        >>> module_class("os.system") is None
        True
    """
    torch = _torch()
    if torch is None:
        return None
    if name.startswith("torch.nn.") and name[len("torch.nn."):] in TORCH_MODULES:
        return getattr(torch.nn, name[len("torch.nn."):])
    if name in COURSE_MODULES:
        from course_utils import checks_torch

        return getattr(checks_torch, name.rsplit(".", 1)[1])
    return None


def module_class_name(cls: type) -> str | None:
    """The allow-list name of a module class, or ``None`` when it may not cross (subclasses may not)."""
    torch = _torch()
    if torch is None:
        return None
    if cls.__module__.startswith("torch.nn") and cls.__name__ in TORCH_MODULES and getattr(torch.nn, cls.__name__,
                                                                                            None) is cls:
        return f"torch.nn.{cls.__name__}"
    name = _qualified(cls)
    return name if name in COURSE_MODULES and module_class(name) is cls else None


def optimizer_class(name: str) -> type | None:
    torch = _torch()
    if torch is None or not name.startswith("torch.optim.") or name[len("torch.optim."):] not in TORCH_OPTIMIZERS:
        return None
    return getattr(torch.optim, name[len("torch.optim."):])


def optimizer_class_name(cls: type) -> str | None:
    torch = _torch()
    if torch is None or cls.__name__ not in TORCH_OPTIMIZERS or getattr(torch.optim, cls.__name__, None) is not cls:
        return None
    return f"torch.optim.{cls.__name__}"


class TorchEncoding:
    """The part of :class:`~dlcourse.grading.codec.Encoder` that encodes tensors, modules and optimizers."""

    def _tensor(self, tensor: Any, depth: int) -> dict:
        torch = _torch()
        kind = type(tensor)
        if kind not in (torch.Tensor, torch.nn.Parameter):
            raise CodecError(f"a tensor of the subclass {_type_name(tensor)} cannot be sent (plain tensors only)")
        if tensor.is_sparse or tensor.layout != torch.strided:
            raise CodecError("a sparse tensor cannot be sent (dense tensors only)")
        dtype = str(tensor.dtype).removeprefix("torch.")
        if dtype not in TORCH_DTYPES:
            raise CodecError(f"a tensor of dtype {tensor.dtype} cannot be sent")
        if tensor.dim() > MAX_DIMENSIONS:
            raise CodecError(f"a tensor with {tensor.dim()} dimensions (at most {MAX_DIMENSIONS})")
        index = self._register(tensor)
        with torch.no_grad():
            plain = tensor.detach().to("cpu").contiguous()
            if plain.dtype == torch.bfloat16:
                raw = plain.view(torch.int16).numpy().tobytes()
            else:
                raw = plain.numpy().tobytes() if plain.numel() else b""
        node = {"t": "tensor", "m": index, "d": dtype, "s": list(tensor.shape), "b": self.blob(raw),
                "rg": bool(tensor.requires_grad), "p": kind is torch.nn.Parameter}
        if tensor.is_leaf and tensor.grad is not None:
            node["g"] = self.encode(tensor.grad, depth + 1)
        return node

    # -- modules and optimizers
    def _module(self, module: Any, name: str, depth: int) -> dict:
        index = self._register(module)
        attributes = {}
        for key, item in vars(module).items():
            if key in _MODULE_INTERNALS or key.startswith("_"):
                continue
            attributes[key] = self.encode(item, depth + 1)
        return {"t": "module", "m": index, "c": name, "tr": bool(module.training), "a": attributes,
                "p": {k: self.encode(v, depth + 1) for k, v in module._parameters.items()},
                "bu": {k: self.encode(v, depth + 1) for k, v in module._buffers.items()},
                "sub": {k: self.encode(v, depth + 1) for k, v in module._modules.items()}}

    def _optimizer(self, optimizer: Any, name: str, depth: int) -> dict:
        index = self._register(optimizer)
        defaults = self.encode(dict(optimizer.defaults), depth + 1)  # the decoder reads them first
        groups = []
        for group in optimizer.param_groups:
            settings = {k: self.encode(v, depth + 1) for k, v in group.items() if k != "params"}
            groups.append({"params": [self.encode(p, depth + 1) for p in group["params"]], "h": settings})
        state = [[self.encode(param, depth + 1), {k: self.encode(v, depth + 1) for k, v in entry.items()}]
                 for param, entry in optimizer.state.items()]
        return {"t": "optim", "m": index, "c": name, "defaults": defaults,
                "groups": groups, "state": state}


class TorchDecoding:
    """The part of :class:`~dlcourse.grading.codec.Decoder` that builds tensors, modules, optimizers and the like."""

    def _require_torch(self) -> Any:
        torch = _torch()
        if torch is None:
            import torch  # the other side sent a tensor: this side needs PyTorch to hold it
        return torch

    def _d_tdtype(self, node: dict, depth: int) -> Any:
        torch = self._require_torch()
        if node["v"] not in TORCH_DTYPES:
            raise CodecError("an unknown PyTorch dtype")
        return getattr(torch, node["v"])

    def _d_tdevice(self, node: dict, depth: int) -> Any:
        torch = self._require_torch()
        if type(node["v"]) is not str or not re.fullmatch(r"(cpu|cuda|mps|meta)(:\d{1,2})?", node["v"]):
            raise CodecError("an unknown PyTorch device")
        return torch.device(node["v"])

    def _d_tensor(self, node: dict, depth: int) -> Any:
        torch = self._require_torch()
        numpy = _numpy()
        if node["d"] not in TORCH_DTYPES:
            raise CodecError("a tensor of an unknown dtype")
        dtype = getattr(torch, node["d"])
        shape = self._shape(node)
        data = self._bytes(node)
        itemsize = torch.empty((), dtype=dtype).element_size()
        if math.prod(shape) * itemsize != len(memoryview(data).cast("B")):
            raise CodecError("a tensor whose data does not match its shape and dtype")
        if dtype == torch.bfloat16:
            flat = torch.from_numpy(numpy.frombuffer(data, dtype=numpy.int16).copy()).view(torch.bfloat16)
        elif math.prod(shape) == 0:
            flat = torch.empty(0, dtype=dtype)
        else:
            flat = torch.from_numpy(numpy.frombuffer(data, dtype=_numpy_of_torch(dtype)).copy())
        tensor = flat.reshape(shape)
        wants_grad = node.get("rg") is True
        if node.get("p") is True:
            tensor = torch.nn.Parameter(tensor, requires_grad=wants_grad)
        elif wants_grad:
            tensor.requires_grad_(True)
        self._register(node, tensor)
        if "g" in node:
            grad = self.decode(node["g"], depth)
            if not isinstance(grad, torch.Tensor) or grad.shape != tensor.shape:
                raise CodecError("a gradient whose shape does not match its tensor")
            tensor.grad = grad
        return tensor

    def _d_tgen(self, node: dict, depth: int) -> Any:
        torch = self._require_torch()
        generator = self._register(node, torch.Generator())
        state = torch.from_numpy(_numpy().frombuffer(self._bytes(node), dtype="uint8").copy())
        generator.set_state(state)
        return generator

    def _d_module(self, node: dict, depth: int) -> Any:
        torch = self._require_torch()
        cls = module_class(node["c"]) if type(node["c"]) is str else None
        if cls is None:
            raise CodecError(f"a module of the class {str(node['c'])[:80]!r}, which may not be sent")
        module = cls.__new__(cls)
        torch.nn.Module.__init__(module)
        self._register(node, module)
        _fill_module(module, self._module_parts(node, depth))
        return module

    def _module_parts(self, node: dict, depth: int) -> dict:
        torch = self._require_torch()
        parts = {"training": node["tr"], "attributes": {}, "parameters": {}, "buffers": {}, "children": {}}
        if type(parts["training"]) is not bool:
            raise CodecError("a module with a malformed training flag")
        for key, out in (("a", "attributes"), ("p", "parameters"), ("bu", "buffers"), ("sub", "children")):
            entries = node[key]
            if type(entries) is not dict:
                raise CodecError("a malformed module")
            for name, item in entries.items():
                if not (_NAME if key == "a" else _PART_NAME).match(name):
                    raise CodecError(f"a module part with the name {name[:40]!r}")
                parts[out][name] = self.decode(item, depth)
        for name, value in parts["parameters"].items():
            if value is not None and not isinstance(value, torch.nn.Parameter):
                raise CodecError(f"module parameter {name!r} is not a parameter")
        for name, value in parts["buffers"].items():
            if value is not None and not isinstance(value, torch.Tensor):
                raise CodecError(f"module buffer {name!r} is not a tensor")
        for name, value in parts["children"].items():
            if value is not None and not isinstance(value, torch.nn.Module):
                raise CodecError(f"submodule {name!r} is not a module")
        return parts

    def _d_optim(self, node: dict, depth: int) -> Any:
        torch = self._require_torch()
        cls = optimizer_class(node["c"]) if type(node["c"]) is str else None
        if cls is None:
            raise CodecError(f"an optimizer of the class {str(node['c'])[:80]!r}, which may not be sent")
        index = node.get("m")
        updating = self._content_of is not None and index == self._content_of
        self._register(node, None)  # its number, taken now; the optimizer is built once its parameters are
        defaults = self.decode(node["defaults"], depth)
        groups = []
        for group in node["groups"]:
            params = self._items(group, "params", depth)
            if not all(isinstance(p, torch.Tensor) for p in params):
                raise CodecError("an optimizer whose parameters are not tensors")
            groups.append({"params": params, **{k: self.decode(v, depth) for k, v in group["h"].items()}})
        if not isinstance(defaults, dict) or not all(type(k) is str for k in defaults):
            raise CodecError("an optimizer with malformed settings")
        optimizer = cls(groups or [{"params": []}], **_optimizer_settings(defaults))
        for group, settings in zip(optimizer.param_groups, groups):
            group.update({k: v for k, v in settings.items() if k != "params"})
        for param_node, entry in node["state"]:
            param = self.decode(param_node, depth)
            if not isinstance(param, torch.Tensor) or type(entry) is not dict:
                raise CodecError("a malformed optimizer state")
            optimizer.state[param] = {k: self.decode(v, depth) for k, v in entry.items()}
        if not updating:
            self.memo.objects[index] = optimizer
            self.memo._index[id(optimizer)] = index
        return optimizer


def _optimizer_settings(defaults: dict) -> dict:
    """The settings an optimizer's constructor accepts (newer PyTorch adds keys older ones refuse, and back)."""
    return {k: v for k, v in defaults.items() if k not in ("differentiable", "capturable", "foreach", "fused")
            or v not in (None, False)}


def _numpy_of_torch(dtype: Any) -> str:
    return {"float16": "float16", "float32": "float32", "float64": "float64", "complex64": "complex64",
            "complex128": "complex128", "int8": "int8", "int16": "int16", "int32": "int32", "int64": "int64",
            "uint8": "uint8", "bool": "bool"}[str(dtype).removeprefix("torch.")]


def _fill_module(module: Any, parts: dict) -> None:
    """Give a module the settings, parameters, buffers and children of ``parts`` (reusing objects it has)."""
    cls = type(module)
    for name, value in parts["attributes"].items():
        if hasattr(cls, name) or name in _MODULE_INTERNALS:
            raise CodecError(f"the module setting {name!r} would replace a method of {cls.__name__}")
        module.__dict__[name] = value
    module.training = parts["training"]
    for name, value in parts["parameters"].items():
        old = module._parameters.get(name)
        if old is not None and value is not None and old is not value:
            _copy_tensor(old, value)
        else:
            module._parameters[name] = value
    for name in set(module._parameters) - set(parts["parameters"]):
        del module._parameters[name]
    for name, value in parts["buffers"].items():
        old = module._buffers.get(name)
        if old is not None and value is not None and old is not value and old.shape == value.shape:
            _copy_tensor(old, value)
        else:
            module._buffers[name] = value
    for name in set(module._buffers) - set(parts["buffers"]):
        del module._buffers[name]
    module._modules.clear()
    module._modules.update(parts["children"])


def _copy_tensor(target: Any, source: Any) -> None:
    torch = _torch()
    with torch.no_grad():
        if target.shape == source.shape and target.dtype == source.dtype:
            target.copy_(source)
        else:
            target.data = source.detach().clone()
    if target.is_leaf:
        target.grad = None if source.grad is None else source.grad.detach().clone()
        if source.requires_grad != target.requires_grad:
            target.requires_grad_(source.requires_grad)
