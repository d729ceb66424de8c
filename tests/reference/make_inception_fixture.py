#!/usr/bin/env python3
"""Reference fixture for diffuse's FID Inception-v3 (eval/inception.h).

Builds pytorch-fid's network independently in PyTorch: torchvision's
Inception3 with the FID blocks (branch average pools with
count_include_pad=False, a max-pooling branch in the last E block), weights
and BatchNorm statistics from a seeded formula, evaluated in float64 with
pytorch-fid's input path (images in [0, 1], bilinear resize to 299x299 with
align_corners=False, then 2x - 1). The full weights (95 MB) are not stored:
the formula below is simple enough for the C++ test to reproduce, and the
fixture records their SHA-256 as tools/convert_inception_weights.py computes
it from a state dict saved by this script, so the test also checks the
converter's names, layouts and digest.

Formula: element i (row-major, diffuse layout [out,kh,kw,in] for conv
weights) of tensor `name` is u = 2 * (splitmix64(fnv1a64(name) + seed + i) >> 11) / 2^53 - 1, then
  conv.weight: u * sqrt(6 / fan_in)   (He-uniform, fan_in = kh*kw*in)
  bn.weight: 1 + 0.2 u   bn.bias: 0.1 u   bn.running_mean: 0.1 u   bn.running_var: 1 + 0.5 u
  fc.weight, fc.bias: 0.01 u (not used for features)

    apt-get install -y python3-torchvision python3-h5py
    /usr/bin/python3 tests/reference/make_inception_fixture.py --output tests/reference/inception_fid.h5
"""

import argparse
import os
import sys
import tempfile

import h5py
import numpy as np
import torch
import torch.nn.functional as F
import torchvision

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
import convert_inception_weights  # noqa: E402

SEED = 20151205
MASK = (1 << 64) - 1


def fnv1a64(text):
    value = 0xCBF29CE484222325
    for byte in text.encode("utf-8"):
        value = ((value ^ byte) * 0x100000001B3) & MASK
    return value


def splitmix64(x):
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def uniform(name, count):
    """u in [-1, 1) for elements 0..count-1 of tensor `name`."""
    base = (fnv1a64(name) + SEED) & MASK
    with np.errstate(over="ignore"):
        indices = np.uint64(base) + np.arange(count, dtype=np.uint64)
    bits = splitmix64(indices) >> np.uint64(11)
    return bits.astype(np.float64) * (2.0 / float(1 << 53)) - 1.0


def formula_value(name, torch_shape):
    """The fixture weight `name` in PyTorch's layout (float64)."""
    if name.endswith("conv.weight"):
        out, cin, kh, kw = torch_shape
        u = uniform(name, out * kh * kw * cin).reshape(out, kh, kw, cin)
        return (u * np.sqrt(6.0 / (kh * kw * cin))).transpose(0, 3, 1, 2)
    count = int(np.prod(torch_shape))
    u = uniform(name, count).reshape(torch_shape)
    if name.endswith("bn.weight"):
        return 1.0 + 0.2 * u
    if name.endswith("bn.running_var"):
        return 1.0 + 0.5 * u
    if name.endswith(("bn.bias", "bn.running_mean")):
        return 0.1 * u
    if name.startswith("fc."):
        return 0.01 * u
    raise ValueError(f"no formula for {name}")


class FIDInceptionA(torchvision.models.inception.InceptionA):
    def forward(self, x):
        pooled = F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)
        branches = [self.branch1x1(x), self.branch5x5_2(self.branch5x5_1(x)),
                    self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))), self.branch_pool(pooled)]
        return torch.cat(branches, 1)


class FIDInceptionC(torchvision.models.inception.InceptionC):
    def forward(self, x):
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d7 = x
        for layer in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4,
                      self.branch7x7dbl_5):
            d7 = layer(d7)
        pooled = F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)
        return torch.cat([self.branch1x1(x), b7, d7, self.branch_pool(pooled)], 1)


class FIDInceptionE(torchvision.models.inception.InceptionE):
    def __init__(self, in_channels, max_pool):
        super().__init__(in_channels)
        self.max_pool = max_pool

    def forward(self, x):
        b3 = self.branch3x3_1(x)
        d3 = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        if self.max_pool:
            pooled = F.max_pool2d(x, kernel_size=3, stride=1, padding=1)
        else:
            pooled = F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)
        return torch.cat([self.branch1x1(x), self.branch3x3_2a(b3), self.branch3x3_2b(b3), self.branch3x3dbl_3a(d3),
                          self.branch3x3dbl_3b(d3), self.branch_pool(pooled)], 1)


def fid_inception():
    net = torchvision.models.inception_v3(weights=None, aux_logits=False, num_classes=1008, init_weights=False)
    net.Mixed_5b = FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = FIDInceptionE(1280, max_pool=False)
    net.Mixed_7c = FIDInceptionE(2048, max_pool=True)
    return net


def pool_features(net, images01):
    """pytorch-fid's InceptionV3 forward up to the final average pool (block index 3)."""
    x = F.interpolate(images01, size=(299, 299), mode="bilinear", align_corners=False)
    x = 2 * x - 1
    x = net.Conv2d_2b_3x3(net.Conv2d_2a_3x3(net.Conv2d_1a_3x3(x)))
    x = F.max_pool2d(x, kernel_size=3, stride=2)
    x = net.Conv2d_4a_3x3(net.Conv2d_3b_1x1(x))
    x = F.max_pool2d(x, kernel_size=3, stride=2)
    for block in (net.Mixed_5b, net.Mixed_5c, net.Mixed_5d, net.Mixed_6a, net.Mixed_6b, net.Mixed_6c, net.Mixed_6d,
                  net.Mixed_6e, net.Mixed_7a, net.Mixed_7b, net.Mixed_7c):
        x = block(x)
    return F.adaptive_avg_pool2d(x, (1, 1)).flatten(1)


def main():
    parser = argparse.ArgumentParser(description="Writes the FID Inception reference fixture.")
    parser.add_argument("--output", required=True)
    arguments = parser.parse_args()

    net = fid_inception()
    state = {}
    for name, tensor in net.state_dict().items():
        if name.endswith("num_batches_tracked"):
            state[name] = tensor
        else:
            state[name] = torch.from_numpy(formula_value(name, tuple(tensor.shape))).to(tensor.dtype)
    net.load_state_dict(state, strict=True)
    net = net.double().eval()

    # The converter on a saved state dict: its digest is what the C++ test must reproduce.
    with tempfile.TemporaryDirectory() as scratch:
        checkpoint = os.path.join(scratch, "inception_formula.pth")
        torch.save(state, checkpoint)
        converted = os.path.join(scratch, "inception_formula.h5")
        convert_inception_weights.main(["--input", checkpoint, "--output", converted])
        with h5py.File(converted, "r") as file:
            sha256 = file.attrs["weights_sha256"]
            probe = "Mixed_6b.branch7x7_2.conv.weight"  # a 1x7 kernel: checks the transposition
            stored = file[f"params/{probe}"][()]
            expected = formula_value(probe, tuple(state[probe].shape)).transpose(0, 2, 3, 1).astype(np.float32)
            assert np.array_equal(stored, expected), "converter layout differs from the formula"

    # Two RGB 32x32 images in [-1, 1] (exact in fp32) and one grayscale 24x20 image, replicated to RGB as diffuse does.
    generator = np.random.default_rng(7)
    rgb = (generator.integers(0, 256, size=(2, 32, 32, 3)) / 127.5 - 1.0).astype(np.float32)
    gray = (generator.integers(0, 256, size=(1, 24, 20, 1)) / 127.5 - 1.0).astype(np.float32)
    with torch.no_grad():
        rgb_features = pool_features(net, (torch.from_numpy(rgb).double().permute(0, 3, 1, 2) + 1) / 2)
        gray_input = torch.from_numpy(gray).double().permute(0, 3, 1, 2).repeat(1, 3, 1, 1)
        gray_features = pool_features(net, (gray_input + 1) / 2)

    with h5py.File(arguments.output, "w") as file:
        file.create_dataset("rgb_images", data=rgb)
        file.create_dataset("rgb_features", data=rgb_features.numpy())
        file.create_dataset("gray_images", data=gray)
        file.create_dataset("gray_features", data=gray_features.numpy())
        file.attrs["seed"] = np.int64(SEED)
        file.attrs["weights_sha256"] = sha256
        file.attrs["torch_version"] = str(torch.__version__)
        file.attrs["torchvision_version"] = str(torchvision.__version__)
    print(f"wrote {arguments.output}: features {tuple(rgb_features.shape)} and {tuple(gray_features.shape)}, "
          f"|f| ~ {rgb_features.abs().mean().item():.4g}, weights sha256 {sha256}")


if __name__ == "__main__":
    main()
