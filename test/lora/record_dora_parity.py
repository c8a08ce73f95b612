#!/usr/bin/python3
"""Records test/lora/dora-parity.json: PEFT's DoRA on a Conv2d followed by its BatchNorm (eval mode), for
test/lora/dora.test.ts (the test needs no torch). Run from the repo root:
  /usr/bin/python3 test/lora/record_dora_parity.py && npx prettier --write test/lora/dora-parity.json

PEFT is not a dependency, so DoraConv2d below follows peft/tuners/lora/dora.py (_DoraConvNdLayer) and
layer.py (Conv2d.forward, merge) line by line, with lora_dropout 0 and one adapter:
- init: magnitude = ||W + scaling * B.A|| over dims (1, 2, 3), keepdim, transposed to [1, out, 1, 1]
  (B = 0 at PEFT's init, so ||W||);
- forward: base_layer(x) + (m/n - 1) * conv(x, W, bias=None) + (m/n) * lora_B(lora_A(x)) * scaling, with
  n = ||W + scaling * (B.flatten(1) @ A.flatten(1)).reshape(W.shape)|| detached;
- merge: W' = (m/n) * (W + scaling * B.A).
The BatchNorm after the conv is what our backbones fold into it. Each case records the inputs, the
conv's and BN's weights, A, B, the magnitude at init and the trained one used, R, and PEFT's outputs:
y = bn(dora_conv(x)), loss = sum(y * R), the gradients of A, B and the magnitude, and the merged weight.
"""
import json

import torch
import torch.nn.functional as F
from torch import nn


class DoraConv2d(nn.Module):
    def __init__(self, base_layer, r, lora_alpha):
        super().__init__()
        self.base_layer = base_layer
        self.scaling = lora_alpha / r
        k = base_layer.kernel_size
        self.lora_A = nn.Conv2d(base_layer.in_channels, r, k, base_layer.stride, base_layer.padding, bias=False)
        self.lora_B = nn.Conv2d(r, base_layer.out_channels, (1, 1), (1, 1), bias=False)
        nn.init.zeros_(self.lora_B.weight)
        self.lora_magnitude_vector = nn.Parameter(self.get_weight_norm(base_layer.weight, self.lora_weight(), self.scaling))

    def lora_weight(self):
        r = self.lora_A.weight.shape[0]
        w = torch.mm(self.lora_B.weight.view([-1, r]), self.lora_A.weight.view([r, -1]))
        return w.reshape(self.base_layer.weight.shape)

    def get_weight_norm(self, weight, lora_weight, scaling):
        weight = weight + scaling * lora_weight
        dim = tuple(range(1, weight.dim()))
        return weight.norm(p=2, dim=dim, keepdim=True).transpose(1, 0)

    def forward(self, x):
        result = self.base_layer(x)
        base = self.base_layer
        weight = base.weight
        magnitude = self.lora_magnitude_vector
        weight_norm = self.get_weight_norm(weight, self.lora_weight().detach(), self.scaling)
        weight_norm = weight_norm.detach()
        mag_norm_scale = magnitude / weight_norm
        base_result = F.conv2d(
            x, weight, bias=None, stride=base.stride, padding=base.padding, dilation=base.dilation, groups=base.groups
        )
        result_dora = (mag_norm_scale - 1) * base_result + mag_norm_scale * self.lora_B(self.lora_A(x)) * self.scaling
        return result + result_dora

    def merged_weight(self):
        delta_weight = self.lora_weight() * self.scaling
        weight_norm = self.get_weight_norm(self.base_layer.weight, delta_weight, scaling=1).detach()
        dora_factor = self.lora_magnitude_vector / weight_norm
        return dora_factor.view(-1, 1, 1, 1) * (self.base_layer.weight + delta_weight)


def flat(t):
    return {"shape": list(t.shape), "data": [float(v) for v in t.detach().reshape(-1)]}


def case(seed, cin, cout, k, stride, r, alpha, size):
    g = torch.Generator().manual_seed(seed)
    rand = lambda *s: torch.rand(*s, generator=g) * 2 - 1
    conv = nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, bias=False)
    bn = nn.BatchNorm2d(cout).eval()
    with torch.no_grad():
        conv.weight.copy_(rand(cout, cin, k, k) * 0.5)
        # One negative γ: the norm must be of V = W_folded / γ', whose sign does not matter.
        bn.weight.copy_(rand(cout) + 1.5)
        bn.weight[1] = -0.7
        bn.bias.copy_(rand(cout) * 0.3)
        bn.running_mean.copy_(rand(cout) * 0.2)
        bn.running_var.copy_(torch.rand(cout, generator=g) + 0.5)
    dora = DoraConv2d(conv, r, alpha)
    magnitude_init = dora.lora_magnitude_vector.detach().clone()
    with torch.no_grad():
        dora.lora_A.weight.copy_(rand(r, cin, k, k) * 0.3)
        dora.lora_B.weight.copy_(rand(cout, r, 1, 1) * 0.3)
        dora.lora_magnitude_vector.mul_(1 + 0.2 * rand(1, cout, 1, 1))
    x = rand(2, cin, size, size)
    y = bn(dora(x))
    R = rand(*y.shape)
    loss = (y * R).sum()
    loss.backward()
    return {
        "kernel": k,
        "stride": stride,
        "r": r,
        "alpha": alpha,
        "eps": bn.eps,
        "x": flat(x),
        "weight": flat(conv.weight),
        "bn": {n: flat(getattr(bn, n)) for n in ["weight", "bias", "running_mean", "running_var"]},
        "lora_A": flat(dora.lora_A.weight),
        "lora_B": flat(dora.lora_B.weight),
        "magnitude_init": flat(magnitude_init),
        "magnitude": flat(dora.lora_magnitude_vector),
        "R": flat(R),
        "y": flat(y),
        "loss": float(loss),
        "grad": {
            "lora_A": flat(dora.lora_A.weight.grad),
            "lora_B": flat(dora.lora_B.weight.grad),
            "magnitude": flat(dora.lora_magnitude_vector.grad),
        },
        "merged_weight": flat(dora.merged_weight()),
    }


torch.manual_seed(0)
out = {
    "torch": torch.__version__,
    "cases": [
        case(1, cin=3, cout=4, k=3, stride=1, r=2, alpha=3, size=6),
        case(2, cin=5, cout=6, k=3, stride=2, r=3, alpha=6, size=7),
        case(3, cin=4, cout=3, k=1, stride=1, r=2, alpha=2, size=5),
    ],
}
with open("test/lora/dora-parity.json", "w") as f:
    json.dump(out, f)
