#!/usr/bin/python3
"""Records test/data/torchvision-trivial-parity.json: torchvision's TrivialAugmentWide ops (_apply_op with
each op's magnitudes, interpolation NEAREST, fill None) on uint8 CHW tensors of real photos, for the
TrivialAugment step of the augmentation graph (test/data/trivial-augment.test.ts reads it; the tests need no
torch). Run from the repo root:
  /usr/bin/python3 test/data/record_trivial_parity.py && npx prettier --write test/data/torchvision-trivial-parity.json

- "magnitudes": TrivialAugmentWide._augmentation_space(31) as float32 values (0-d ones as []).
- "tolerance": per op, the largest difference allowed per byte (see "toleranceNote").
- "photos": photos from ../shared/data/smoking resized with PIL (their bytes are stored, so the decoder and
  resize do not matter), and per op, magnitude bin and sign the first 16 hex digits of the SHA-256 of
  torchvision's HWC bytes. The small photos take every bin and sign, the 288x288 one bins 0, 7, 15, 23, 30.
"""
import base64
import hashlib
import json

import numpy as np
import torch
import torchvision
import torchvision.transforms as T
from PIL import Image
from torchvision.transforms.autoaugment import _apply_op

space = T.TrivialAugmentWide()._augmentation_space(31)
photos_spec = [
    ("Training/Training/smoking_0003.jpg", 40, 56, range(31)),
    ("Training/Training/notsmoking_0010.jpg", 52, 40, range(31)),
    ("Validation/Validation/smoking_0018.jpg", 288, 288, [0, 7, 15, 23, 30]),
]


def hwc(chw):
    return chw.permute(1, 2, 0).contiguous().numpy().tobytes()


photos = []
for path, h, w, bins in photos_spec:
    rgb = np.asarray(Image.open(f"../shared/data/smoking/{path}").convert("RGB").resize((w, h), Image.BILINEAR))
    img = torch.from_numpy(rgb.copy()).permute(2, 0, 1).contiguous()
    cases = []
    for op, (magnitudes, signed) in space.items():
        for b in bins if magnitudes.ndim > 0 else [None]:
            for negative in [False, True] if signed else [False]:
                # As TrivialAugmentWide.forward: the float32 magnitude as a Python float, negated for sign 1.
                m = float(magnitudes[b].item()) if b is not None else 0.0
                if negative:
                    m *= -1.0
                out = _apply_op(img, op, m, interpolation=T.InterpolationMode.NEAREST, fill=None)
                digest = hashlib.sha256(hwc(out)).hexdigest()[:16]
                cases.append({"op": op, "bin": b, "negative": negative, "sha256": digest})
    photos.append({"name": path, "height": h, "width": w, "rgb": base64.b64encode(rgb.tobytes()).decode(), "cases": cases})

fixture = {
    "tolerance": {op: 0 for op in space},
    "toleranceNote": "grey levels per byte; 0 for every op (bit-exact, compared by hash): the graph does "
    "torchvision's float32 maths in its order and truncates or rounds as it does. Contrast's grey mean is exact "
    "while the sum fits float32's integers (up to 256x256 pixels; the 288x288 photo's matched too)",
    "source": f"torch {torch.__version__}, torchvision {torchvision.__version__} on this CPU: "
    "torchvision.transforms.autoaugment._apply_op(img, op, magnitude, NEAREST, fill=None) on contiguous "
    "uint8 CHW; photos and results HWC RGB; written by test/data/record_trivial_parity.py",
    "magnitudes": {op: m.tolist() if m.ndim > 0 else [] for op, (m, _) in space.items()},
    "signed": [op for op, (_, s) in space.items() if s],
    "photos": photos,
}
with open("test/data/torchvision-trivial-parity.json", "w") as out:
    json.dump(fixture, out, indent=2)
    out.write("\n")
print(f"{sum(len(p['cases']) for p in photos)} cases on {len(photos)} photos")
