#!/usr/bin/env python3
"""Writes tests/reference/python.safetensors with Hugging Face's `safetensors`
package, for tests/io/test_safetensors.cpp: a file made by the reference
implementation, which diffuse's reader must read back exactly.

  "f32" F32 [2,3], "f16" F16 [5], "bf16" BF16 [3], "f64" F64 [2], "i64" I64 [2]
  (a dtype diffuse lists but does not read), "empty" F32 [0,4],
  metadata {"format": "pt", "source": "make_safetensors_fixture.py"}

Every value is exact in its dtype and in float32. numpy has no bfloat16, so the
BF16 bytes are given to safetensors.serialize_file directly (the high halves of
the float32 bit patterns, exact for these values).

Usage, with the versions the fixture was made with (safetensors 0.4.5, numpy 1.26.4):
  python3 -m venv /tmp/safetensors-venv
  /tmp/safetensors-venv/bin/pip install safetensors==0.4.5 numpy==1.26.4
  /tmp/safetensors-venv/bin/python tools/make_safetensors_fixture.py [--output tests/reference/python.safetensors]
"""
import argparse

import numpy as np
from safetensors import serialize_file

F32 = np.array([[1.0, -2.5, 3.25], [0.0, 1e-3, -1e6]], dtype=np.float32)
F16 = np.array([0.5, -1.25, 65504.0, 2.0**-14, 2.0**-24], dtype=np.float16)  # max, smallest normal, subnormal
BF16_AS_F32 = np.array([1.5, -2.25, 3.140625], dtype=np.float32)
F64 = np.array([1.0 / 3.0, -0.125], dtype=np.float64)
I64 = np.array([7, -9], dtype=np.int64)


def entry(dtype, array, data=None):
    return {"dtype": dtype, "shape": list(array.shape), "data": data if data is not None else array.tobytes()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="tests/reference/python.safetensors")
    args = parser.parse_args()
    bf16 = (BF16_AS_F32.view(np.uint32) >> 16).astype("<u2").tobytes()
    tensors = {
        "f32": entry("float32", F32),
        "f16": entry("float16", F16),
        "bf16": entry("bfloat16", BF16_AS_F32, bf16),
        "f64": entry("float64", F64),
        "i64": entry("int64", I64),
        "empty": entry("float32", np.zeros((0, 4), dtype=np.float32)),
    }
    serialize_file(tensors, args.output, {"format": "pt", "source": "make_safetensors_fixture.py"})


if __name__ == "__main__":
    main()
