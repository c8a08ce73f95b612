#!/usr/bin/python3
"""onnx.checker.check_model with full shape inference on each ONNX file given; exits 1 naming a bad one."""
import sys

import onnx

for path in sys.argv[1:]:
    try:
        onnx.checker.check_model(onnx.load(path), full_check=True)
    except Exception as e:  # noqa: BLE001 - any checker failure names the file
        sys.exit(f"{path}: {type(e).__name__}: {e}")
print(f"checked {len(sys.argv) - 1} files")
