#!/usr/bin/python3
"""Exports torchvision architectures, randomly initialised (seed 0), as ONNX files with a symbolic batch:
export_torchvision.py <out dir> <opset> <name>... writes <out dir>/<name>.onnx for each."""
import os
import sys

import torch
import torchvision.models as models

out, opset, names = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
for name in names:
    torch.manual_seed(0)
    model = getattr(models, name)(weights=None)
    # BatchNorm's statistics from one batch of noise, so that activations keep their scale through the
    # randomly initialised depth (with init's mean 0 and variance 1 they vanish in EfficientNet).
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = 1.0
    with torch.no_grad():
        # ConvNeXt scales its residual branches by 1e-6 at init, which hides them from any gradient check.
        for param_name, param in model.named_parameters():
            if param_name.endswith("layer_scale"):
                param.fill_(1.0)
        model.train()(torch.randn(8, 3, 224, 224))
    model.eval()
    torch.onnx.export(
        model,
        torch.randn(1, 3, 224, 224),
        os.path.join(out, f"{name}.onnx"),
        opset_version=opset,
        input_names=["input"],
        output_names=["logits"],
        dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
    )
print(f"exported {len(names)} models")
