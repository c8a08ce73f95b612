#!/usr/bin/python3
"""Records test/data/torchvision-crop-parity.json: torchvision's resized_crop (BILINEAR, antialias=False) on
uint8 CHW tensors, for the crop step of the augmentation graph (test/data/augment.test.ts reads it; the
tests need no torch). Run from the repo root:
  /usr/bin/python3 test/data/record_crop_parity.py && npx prettier --write test/data/torchvision-crop-parity.json

- "tolerance": the largest difference allowed per byte, 0 (see below).
- "images": small images with named crop boxes (identity, upscaling, wide and tall boxes, one row, one
  pixel, edges) and torchvision's bytes for each.
- "patterned": images given by a formula both languages compute (pattern() below, patternedImage() in the
  test), with many seeded random boxes and the first 16 hex digits of the SHA-256 of torchvision's bytes.
- "fallback": RandomResizedCrop.get_params' central crop for sizes of several aspects (a scale above 1
  never fits, so every try misses).

The images are contiguous CHW tensors (as torchvision.io.read_image gives them). A channels-last one (e.g.
PILToTensor's permuted view of HWC memory) takes PyTorch's channels-last kernel, which sums the four taps
in another order: a byte can then differ by one at an exact half.
"""
import base64
import hashlib
import json
import random

import numpy as np
import torch
import torchvision
import torchvision.transforms as T
import torchvision.transforms.functional as F

B = T.InterpolationMode.BILINEAR


def hwc(chw):
    return chw.permute(1, 2, 0).contiguous().numpy().tobytes()


def crop(img, top, left, height, width):
    _, h, w = img.shape
    return F.resized_crop(img, top, left, height, width, [h, w], B, antialias=False)


def pattern(h, w):
    y, x, c = np.meshgrid(np.arange(h), np.arange(w), np.arange(3), indexing="ij")
    return torch.from_numpy((((x * 131 + y * 71 + c * 29) ^ (x * y * 7 + c * 13)) & 255).astype(np.uint8)).permute(2, 0, 1).contiguous()


def named(name, img, boxes):
    assert img.is_contiguous()
    _, h, w = img.shape
    cases = [
        {"top": t, "left": l, "height": bh, "width": bw, "rgb": base64.b64encode(hwc(crop(img, t, l, bh, bw))).decode()}
        for t, l, bh, bw in boxes
    ]
    return {"name": name, "height": h, "width": w, "rgb": base64.b64encode(hwc(img)).decode(), "cases": cases}


gen = torch.Generator().manual_seed(7)
noise = torch.randint(0, 256, (3, 24, 24), dtype=torch.uint8, generator=gen)
wide = torch.randint(0, 256, (3, 20, 28), dtype=torch.uint8, generator=gen)
images = [
    # (top, left, height, width): the whole image; 4x and 3x upscales; a wide and a tall box; one row;
    # one pixel; the bottom-right corner; half the image.
    named("noise 24x24", noise, [(0, 0, 24, 24), (3, 5, 6, 6), (10, 2, 8, 8), (4, 0, 12, 20), (0, 7, 22, 9),
                                 (11, 3, 1, 17), (5, 5, 1, 1), (14, 15, 10, 9), (6, 6, 12, 12)]),
    named("noise 20x28", wide, [(0, 0, 20, 28), (2, 3, 5, 7), (0, 0, 20, 15), (7, 1, 13, 27), (3, 20, 17, 8),
                                (9, 9, 11, 1)]),
]

rng = random.Random(11)
patterned = []
for h, w, count in [(24, 24, 60), (20, 28, 60), (17, 23, 40), (224, 224, 12), (288, 288, 6)]:
    img = pattern(h, w)
    for _ in range(count):
        bh, bw = rng.randint(1, h), rng.randint(1, w)
        t, l = rng.randint(0, h - bh), rng.randint(0, w - bw)
        digest = hashlib.sha256(hwc(crop(img, t, l, bh, bw))).hexdigest()[:16]
        patterned.append({"height": h, "width": w, "top": t, "left": l, "boxHeight": bh, "boxWidth": bw, "sha256": digest})

fallback = []
for h, w in [(224, 224), (20, 40), (40, 20), (17, 23), (30, 21)]:
    t, l, bh, bw = T.RandomResizedCrop.get_params(torch.zeros(3, h, w), [5.0, 5.0], [3 / 4, 4 / 3])
    fallback.append({"size": [h, w], "box": {"top": t, "left": l, "height": bh, "width": bw}})

fixture = {
    # Bit-exact: the graph takes PyTorch's taps (double source index, float32 weights) and its AVX2 kernel's
    # fused multiply-adds (an exact double product, one rounding), so each float32 before torch.round is
    # torch's. Only a double rounding at an exact half could move a byte, by one; it was never seen.
    "tolerance": 0,
    "toleranceNote": "grey levels per byte; 0, bit-exact: the graph uses PyTorch's taps, weights and its AVX2 "
    "kernel's fused multiply-add order (contiguous CHW); the patterned cases, kept as hashes, compare only exactly",
    "source": f"torch {torch.__version__}, torchvision {torchvision.__version__} on this CPU "
    "(its AVX2 bilinear kernel): resized_crop(img, top, left, h, w, [H, W], BILINEAR, antialias=False) on "
    "contiguous uint8 CHW, resized back to the image's size; images and results HWC RGB, base64; written by "
    "test/data/record_crop_parity.py",
    "images": images,
    "patterned": patterned,
    "fallback": fallback,
}
with open("test/data/torchvision-crop-parity.json", "w") as out:
    json.dump(fixture, out, indent=2)
    out.write("\n")
print(f"{sum(len(i['cases']) for i in images)} named cases, {len(patterned)} patterned, {len(fallback)} fallback")
