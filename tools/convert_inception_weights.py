#!/usr/bin/env python3
"""Converts pytorch-fid's Inception-v3 weights to a diffuse feature network file.

    /usr/bin/python3 tools/convert_inception_weights.py \
        --input pt_inception-2015-12-05-6726825d.pth --output fid_inception.h5

The input is the PyTorch state dict that pytorch-fid loads (the FID Inception
graph of TensorFlow's 2015-12-05 release, ported); download it yourself where
you have network access. The output is what `diffuse eval --features` reads
(eval/feature_file.h): every conv weight transposed from PyTorch's
[out,in,kh,kw] to [out,kh,kw,in], the BatchNorm parameters and running
statistics as they are (diffuse folds them into the convs when it loads the
file), root attributes describing the network and the SHA-256 of the weights.
The classifier (fc.*), the auxiliary head and BatchNorm step counters are left
out: evaluation uses the 2048-d pool features.

Needs python3-torch (only to read the checkpoint), python3-h5py and python3-numpy.
"""

import argparse
import hashlib
import os
import sys

import h5py
import numpy as np

FORMAT_VERSION = 1
KIND = "inception_v3_fid"
ARCHITECTURE = ("Inception-v3 of pytorch-fid (FIDInceptionA/C/E, TF 2015-12-05 graph): 299x299 bilinear resize, "
                "pool3 features")
FEATURE_DIM = 2048
CONV_COUNT = 94  # BasicConv2d modules from Conv2d_1a_3x3 to Mixed_7c
BATCH_NORM_PARTS = ("bn.weight", "bn.bias", "bn.running_mean", "bn.running_var")


def diffuse_weights(state_dict):
    """Maps a torchvision/pytorch-fid Inception state dict (name -> array) to diffuse's names and layouts."""
    weights = {}
    for name, value in state_dict.items():
        value = np.asarray(value, dtype=np.float32)
        if name.startswith(("fc.", "AuxLogits.")) or name.endswith("num_batches_tracked"):
            continue
        if name.endswith("conv.weight"):
            if value.ndim != 4:
                raise ValueError(f"{name}: expected a 4-d conv weight, got shape {value.shape}")
            value = value.transpose(0, 2, 3, 1)  # [out,in,kh,kw] -> [out,kh,kw,in]
        elif not any(name.endswith(part) for part in BATCH_NORM_PARTS):
            raise ValueError(f"unexpected weight '{name}': is this pytorch-fid's Inception checkpoint?")
        weights[name] = np.ascontiguousarray(value)
    convs = sorted(name[: -len(".conv.weight")] for name in weights if name.endswith(".conv.weight"))
    if len(convs) != CONV_COUNT:
        raise ValueError(f"found {len(convs)} convolutions, expected {CONV_COUNT}")
    for conv in convs:
        for part in BATCH_NORM_PARTS:
            if f"{conv}.{part}" not in weights:
                raise ValueError(f"{conv} has no {part}")
    return weights


def weights_sha256(weights):
    """The digest diffuse records: per name in sorted order, the name, a NUL byte, the values as little-endian fp32."""
    digest = hashlib.sha256()
    for name in sorted(weights):
        digest.update(name.encode("utf-8") + b"\0")
        digest.update(np.ascontiguousarray(weights[name], dtype="<f4").tobytes())
    return digest.hexdigest()


def write_feature_file(path, weights):
    """Writes the feature network file through a temporary name; returns the weights' SHA-256."""
    sha256 = weights_sha256(weights)
    temporary = path + ".tmp"
    with h5py.File(temporary, "w") as file:
        for name in sorted(weights):
            file.create_dataset(f"params/{name}", data=weights[name].astype("<f4"))
        file.attrs["format_version"] = np.int64(FORMAT_VERSION)
        file.attrs["kind"] = KIND
        file.attrs["architecture"] = ARCHITECTURE
        file.attrs["image_size"] = np.int64(0)
        file.attrs["image_channels"] = np.int64(0)
        file.attrs["feature_dim"] = np.int64(FEATURE_DIM)
        file.attrs["num_classes"] = np.int64(0)
        file.attrs["weights_sha256"] = sha256
    os.replace(temporary, path)
    return sha256


def load_state_dict(path):
    import torch  # only needed to read the checkpoint

    state_dict = torch.load(path, map_location="cpu")
    if "state_dict" in state_dict:
        state_dict = state_dict["state_dict"]
    return {name: tensor.detach().cpu().numpy() for name, tensor in state_dict.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--input", required=True, help="pt_inception-2015-12-05-6726825d.pth (a state dict)")
    parser.add_argument("--output", required=True, help="feature network file to write (.h5)")
    arguments = parser.parse_args(argv)
    weights = diffuse_weights(load_state_dict(arguments.input))
    sha256 = write_feature_file(arguments.output, weights)
    count = sum(value.size for value in weights.values())
    print(f"wrote {arguments.output}: {len(weights)} tensors, {count} values, weights sha256 {sha256}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
