#!/usr/bin/python3
"""Loads a smoker-lora PEFT export onto torchvision resnet18 in PyTorch, from the adapter's files alone, and
compares its logits with ours.

The LoRA modules are PEFT's shapes, written here from the file's keys and adapter_config.json: each target
conv becomes base_layer + lora_A['default'] (a conv in->r with the base's kernel, stride and padding) +
lora_B['default'] (a 1x1 conv r->out), out = base(x) + B(A(x)) * scaling, scaling = lora_alpha / r, or
lora_alpha / sqrt(r) with use_rslora, where r is the module's rank_pattern rank if a key matches it (PEFT's
get_pattern_key). With use_dora, each also has lora_magnitude_vector['default'] (a
DoraConv2dLayer's weight m, [1, out, 1, 1]) and, as PEFT's DoraConv2dLayer.forward, out = base(x) +
(m/n - 1) * conv(x, W, no bias) + (m/n) * B(A(x)) * scaling with n = ||W + scaling * B.A|| per output
channel. The keys `base_model.model.<module>.lora_A.weight` load into
`<module>.lora_A.default.weight`, as PEFT's set_peft_model_state_dict inserts the adapter name
(`<module>.lora_magnitude_vector` into `<module>.lora_magnitude_vector.default.weight`), and the
head `base_model.model.fc.*` into the modules_to_save copy of fc.

usage: peft_roundtrip.py <resnet18 state dict .safetensors> <adapter folder> <io .safetensors with x, logits>
Prints JSON: the largest |ours - torch| relative to the largest |ours|, and the same without the adapters,
with the other scaling rule, (with a rank_pattern) with the global r's scaling for every module and
(with DoRA) as plain LoRA (so a caller can see the check would fail if the
adapters were misread).
"""
import json
import math
import re
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torchvision

DTYPES = {"F16": np.float16, "F32": np.float32, "F64": np.float64, "I64": np.int64, "BF16": None}


def load_safetensors(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    out = {}
    for key, info in header.items():
        if key == "__metadata__":
            continue
        start, end = info["data_offsets"]
        a = np.frombuffer(raw[8 + n + start:8 + n + end], dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
        out[key] = torch.from_numpy(a.astype(np.float32) if a.dtype.kind == "f" else a.copy())
    return out


class DoraMagnitude(nn.Module):
    def __init__(self, cout):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(1, cout, 1, 1))


class LoraConv2d(nn.Module):
    def __init__(self, base, r, dora):
        super().__init__()
        self.base_layer = base
        self.lora_A = nn.ModuleDict({"default": nn.Conv2d(base.in_channels, r, base.kernel_size, base.stride,
                                                          base.padding, bias=False)})
        self.lora_B = nn.ModuleDict({"default": nn.Conv2d(r, base.out_channels, 1, 1, bias=False)})
        self.lora_magnitude_vector = nn.ModuleDict({"default": DoraMagnitude(base.out_channels)} if dora else {})
        self.use_dora = dora
        self.scaling = {"default": 1.0}

    def forward(self, x):
        scaling = self.scaling["default"]
        lora_A, lora_B = self.lora_A["default"], self.lora_B["default"]
        result = self.base_layer(x)
        if not self.use_dora:
            return result + lora_B(lora_A(x)) * scaling
        base = self.base_layer
        r = lora_A.weight.shape[0]
        lora_weight = torch.mm(lora_B.weight.view([-1, r]), lora_A.weight.view([r, -1])).reshape(base.weight.shape)
        weight = base.weight + scaling * lora_weight.detach()
        weight_norm = weight.norm(p=2, dim=(1, 2, 3), keepdim=True).transpose(1, 0).detach()
        mag_norm_scale = self.lora_magnitude_vector["default"].weight / weight_norm
        base_result = nn.functional.conv2d(x, base.weight, None, base.stride, base.padding, base.dilation, base.groups)
        return result + (mag_norm_scale - 1) * base_result + mag_norm_scale * lora_B(lora_A(x)) * scaling


weights_path, adapter_dir, io_path = sys.argv[1:4]
config = json.load(open(f"{adapter_dir}/adapter_config.json"))
assert config["peft_type"] == "LORA" and config["task_type"] is None, config
adapter = load_safetensors(f"{adapter_dir}/adapter_model.safetensors")
io = load_safetensors(io_path)

model = torchvision.models.resnet18(weights=None)
state = load_safetensors(weights_path)
head = [m for m in config["modules_to_save"]]
assert head == ["fc"], head
w = adapter["base_model.model.fc.weight"]
model.fc = nn.Linear(w.shape[1], w.shape[0])  # the new head, as a user replaces it before from_pretrained
missing = model.load_state_dict({k: v for k, v in state.items() if not k.startswith("fc.")}, strict=False)
assert missing.missing_keys == ["fc.weight", "fc.bias"] and not missing.unexpected_keys, missing

alpha = config["lora_alpha"]


def rank_of(name):
    """PEFT's get_pattern_key: the first rank_pattern key matching the name or a dotted suffix, else r."""
    for key, r in config["rank_pattern"].items():
        if re.match(rf"(.*\.)?({key})$", name):
            return r
    return config["r"]


def scaling_of(r, rslora=config["use_rslora"]):
    return alpha / math.sqrt(r) if rslora else alpha / r


r = config["r"]
scaling = scaling_of(r)
dora = config["use_dora"]
targets = config["target_modules"]
used = set()
patterned = 0
for name in targets:
    parent_name, _, attr = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    base = getattr(parent, attr)
    assert isinstance(base, nn.Conv2d), f"{name} is {type(base).__name__}, not Conv2d"
    lora = LoraConv2d(base, rank_of(name), dora)
    patterned += rank_of(name) != r
    for ab in ("lora_A", "lora_B") + (("lora_magnitude_vector",) if dora else ()):
        key = f"base_model.model.{name}.{ab}" + ("" if ab == "lora_magnitude_vector" else ".weight")
        target = getattr(lora, ab)["default"].weight
        assert adapter[key].shape == target.shape, f"{key}: {tuple(adapter[key].shape)} vs {tuple(target.shape)}"
        target.data.copy_(adapter[key])
        used.add(key)
    setattr(parent, attr, lora)
model.fc.weight.data.copy_(adapter["base_model.model.fc.weight"])
model.fc.bias.data.copy_(adapter["base_model.model.fc.bias"])
used |= {"base_model.model.fc.weight", "base_model.model.fc.bias"}
assert used == set(adapter), f"keys not loaded: {sorted(set(adapter) - used)}"
model.eval()

ref = io["logits"]
scale = ref.abs().max().item()


def error_with(rule, use_dora=dora):
    """The error with each module's scaling given by rule(its rank)."""
    for m in model.modules():
        if isinstance(m, LoraConv2d):
            m.scaling["default"] = rule(m.lora_A["default"].weight.shape[0])
            m.use_dora = use_dora
    with torch.no_grad():
        return ((model(io["x"]) - ref).abs().max().item()) / scale


res = {"targets": len(targets), "patterned": patterned, "scaling": scaling, "error": error_with(scaling_of),
       "without_adapters": error_with(lambda _: 0.0, False),
       "other_scaling": error_with(lambda q: scaling_of(q, not config["use_rslora"]))}
if patterned:
    res["global_rank_scaling"] = error_with(lambda _: scaling)
if dora:
    res["as_lora"] = error_with(scaling_of, False)
print(json.dumps(res))
