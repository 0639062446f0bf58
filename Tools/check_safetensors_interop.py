#!/usr/bin/env python3
"""safetensors interop between graphc (Swift) and Python's `safetensors` package.

  --write-fixture PATH   write the fixture the Swift tests read (Tests/GraphIOTests/Fixtures/safetensors/
                         python_written.safetensors): one tensor per dtype, values from simple formulas
                         that the Swift test recomputes, plus __metadata__.
  --check-swift          run the Swift test that writes a file (GRAPHC_INTEROP_OUT), then load that file
                         with safetensors + numpy and check every value.

Needs: pip install safetensors numpy (in a venv outside the repo).
"""
import argparse, os, subprocess, sys, tempfile
import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file
from safetensors import serialize_file, TensorSpec


def fixture_tensors():
    a = (np.arange(12, dtype=np.float32) * 0.25 - 1.0).reshape(3, 4)
    return {
        "f32": a,
        "f16": a.astype(np.float16),
        "f64": (np.arange(6, dtype=np.float64) / 3.0).reshape(2, 3),
        "i64": np.array([-3, 0, 2**31 - 1, -2**31], dtype=np.int64),
        "i32": np.array([[1, -2], [3, -4]], dtype=np.int32),
        "i8": np.array([-128, -1, 0, 127], dtype=np.int8),
        "u8": np.array([0, 1, 128, 255], dtype=np.uint8),
        "bool": np.array([True, False, True], dtype=np.bool_),
        "scalar": np.array(7.5, dtype=np.float32),
        "empty": np.zeros((0, 3), dtype=np.float32),
    }


def write_fixture(path):
    tensors = fixture_tensors()
    # numpy has no bfloat16: store the top 16 bits of the f32 values (exact for these values).
    bf16 = (tensors["f32"].view(np.uint32) >> 16).astype(np.uint16)
    keep = list(tensors.values()) + [bf16]
    raw = {k: TensorSpec(dtype=v.dtype.name, shape=v.shape, data_ptr=v.ctypes.data, data_len=v.nbytes)
           for k, v in tensors.items()}
    raw["bf16"] = TensorSpec(dtype="bfloat16", shape=(3, 4), data_ptr=bf16.ctypes.data, data_len=bf16.nbytes)
    serialize_file(raw, path, metadata={"format": "pt", "writer": "python-safetensors"})
    del keep
    with safe_open(path, framework="numpy") as f:
        assert np.array_equal(f.get_tensor("f16"), tensors["f16"])
    print(f"wrote {path}")


def check_swift(repo):
    out = os.path.join(tempfile.mkdtemp(), "swift_written.safetensors")
    env = dict(os.environ, GRAPHC_INTEROP_OUT=out)
    subprocess.run(["swift", "test", "--filter", "SafetensorsInteropTests"], cwd=repo, env=env, check=True)
    with safe_open(out, framework="numpy") as f:
        meta = f.metadata()
        assert meta == {"writer": "graphc"}, meta
        got = {k: f.get_tensor(k) for k in f.keys()}
    want = {
        "weight": (np.arange(6, dtype=np.float32) * 0.5 - 1).reshape(2, 3),
        "ids": np.array([[101, 7592, 102]], dtype=np.int32),
        "mask": np.array([True, False]),
        "f64": np.array([1 / 3, -2.5], dtype=np.float64),
        "half": np.array([0.5, -1.25, 3], dtype=np.float16),
    }
    assert set(got) == set(want), (sorted(got), sorted(want))
    for k, v in want.items():
        assert got[k].dtype == v.dtype and got[k].shape == v.shape and np.array_equal(got[k], v), (k, got[k], v)
    print(f"OK: Python safetensors read the Swift-written file {out}: {sorted(got)}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--write-fixture")
    ap.add_argument("--check-swift", action="store_true")
    a = ap.parse_args()
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if a.write_fixture:
        write_fixture(a.write_fixture)
    if a.check_swift:
        check_swift(repo)
    if not a.write_fixture and not a.check_swift:
        ap.print_help()
        sys.exit(2)
