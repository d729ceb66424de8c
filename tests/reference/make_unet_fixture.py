#!/usr/bin/env python3
"""Writes tests/reference/unet_tiny.h5: the DDPM U-Net of model/unet.h built
independently in PyTorch for the configs/tiny.yaml spec, with seeded random
weights, one forward and one backward, for tests/model/test_unet_reference.cpp.
With --adm it writes tests/reference/unet_tiny_adm.h5 instead: a smaller model
with every ADM option on (scale_shift_norm, several heads by num_head_channels,
resblock_updown, attention at two resolutions), following guided-diffusion's
unet.py (ResBlock with use_scale_shift_norm / up / down, QKVAttention).

Everything is computed in float64, so the fixture is the exact answer for its
(float32-representable) inputs and the C++ test measures only its own error.
Layout in the file is diffuse's: NHWC activations, conv weights
[out,kh,kw,in], linear weights [out,in], GroupNorm weight/bias as gamma/beta.

  /x [N,S,S,C], /t [N], /labels [N] int32 (one of them num_classes = "no class")
  /params/<name>   every parameter, under diffuse's dotted name
  /output [N,S,S,C]
  /projection [N,S,S,C]; /grads/<name> = d sum(output * projection) / d param

To keep the file small (< 3 MB) with gzip + shuffle: inputs and weights have
6 significant bits (so float32 holds them exactly and they compress), and
gradients are stored rounded to 12 significant bits (relative error <= 2^-12
= 2.4e-4, inside the test's rtol of 1e-3).

Usage (Debian's torch, not the pyenv python on PATH):
  apt-get install -y python3-torch python3-h5py
  /usr/bin/python3 tests/reference/make_unet_fixture.py [--output tests/reference/unet_tiny.h5]
  /usr/bin/python3 tests/reference/make_unet_fixture.py --adm [--output tests/reference/unet_tiny_adm.h5]
"""
import argparse
import math

import h5py
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# configs/tiny.yaml, with dropout 0 (PyTorch's dropout masks are not diffuse's Philox masks).
DDPM_SPEC = dict(image_size=32, image_channels=1, channels=32, channel_mults=[1, 2], num_res_blocks=1,
                 attention_resolutions=[16], dropout=0.0, num_classes=10, groups=8, scale_shift_norm=False,
                 num_heads=1, num_head_channels=0, resblock_updown=False)
# Every ADM option on, small enough for a fixture of a few hundred KB: 2 heads at 16x16, 4 at 8x8 and in the middle.
ADM_SPEC = dict(image_size=16, image_channels=2, channels=8, channel_mults=[1, 2], num_res_blocks=1,
                attention_resolutions=[16, 8], dropout=0.0, num_classes=3, groups=4, scale_shift_norm=True,
                num_heads=1, num_head_channels=4, resblock_updown=True)
SPEC = DDPM_SPEC  # the one being written, set by main
GROUP_NORM_EPS = 1e-6  # DDPM's (TensorFlow group_norm default)
BATCH = 2
SEED = 20240611
VALUE_BITS = 6  # significant bits of weights and inputs: exact in float32, and they compress
GRAD_BITS = 12  # significant bits of stored gradients: relative rounding error <= 2^-12 = 2.4e-4


def group_norm(channels):
    return nn.GroupNorm(SPEC["groups"], channels, eps=GROUP_NORM_EPS)


def sinusoidal_embedding(t, width):
    half = width // 2
    frequencies = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float64) / (half - 1))
    angles = t[:, None] * frequencies[None, :]
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


def resample(h, kind):
    if kind == "down":
        return F.avg_pool2d(h, kernel_size=2, stride=2)
    if kind == "up":
        return F.interpolate(h, scale_factor=2.0, mode="nearest")
    return h


class ResBlock(nn.Module):
    """DDPM's block; ADM's scale_shift_norm (AdaGN) and up / down resampling as guided-diffusion's ResBlock."""

    def __init__(self, in_channels, out_channels, temb_channels, resample_kind=None):
        super().__init__()
        self.scale_shift = SPEC["scale_shift_norm"]
        self.resample_kind = resample_kind
        self.norm1 = group_norm(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.temb_proj = nn.Linear(temb_channels, 2 * out_channels if self.scale_shift else out_channels)
        self.norm2 = group_norm(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.skip = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else None

    def forward(self, x, temb_activated):
        h = self.conv1(resample(F.silu(self.norm1(x)), self.resample_kind))
        x = resample(x, self.resample_kind)
        embedding = self.temb_proj(temb_activated)[:, :, None, None]
        if self.scale_shift:
            scale, shift = torch.chunk(embedding, 2, dim=1)
            h = self.conv2(F.silu(self.norm2(h) * (1 + scale) + shift))
        else:
            h = self.conv2(F.silu(self.norm2(h + embedding)))
        return (x if self.skip is None else self.skip(x)) + h


def attention_heads(channels):
    if SPEC["num_head_channels"] > 0:
        return channels // SPEC["num_head_channels"]
    return SPEC["num_heads"]


class AttentionBlock(nn.Module):
    """Heads split q, k and v each into contiguous channel chunks (guided-diffusion's QKVAttention)."""

    def __init__(self, channels):
        super().__init__()
        self.heads = attention_heads(channels)
        self.norm = group_norm(channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)  # output channels: q, then k, then v
        self.proj = nn.Conv2d(channels, channels, 1)

    def forward(self, x):
        n, c, height, width = x.shape
        heads, tokens = self.heads, height * width
        qkv = self.qkv(self.norm(x)).reshape(n, 3 * c, tokens)
        q, k, v = (part.reshape(n * heads, c // heads, tokens) for part in qkv.chunk(3, dim=1))
        probs = torch.softmax(torch.einsum("ncl,ncm->nlm", q, k) / math.sqrt(c // heads), dim=-1)
        attended = torch.einsum("nlm,ncm->ncl", probs, v).reshape(n, c, height, width)
        return x + self.proj(attended)


class Level(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = nn.ModuleList()
        self.attn = nn.ModuleList()


class UNet(nn.Module):
    def __init__(self, spec):
        super().__init__()
        self.spec = spec
        ch, mults, temb = spec["channels"], spec["channel_mults"], 4 * spec["channels"]
        self.time_embed = nn.ModuleList([nn.Linear(ch, temb), nn.Linear(temb, temb)])
        self.class_embed = nn.Embedding(spec["num_classes"] + 1, temb)
        self.conv_in = nn.Conv2d(spec["image_channels"], ch, 3, padding=1)

        skip_channels, channels, resolution = [ch], ch, spec["image_size"]
        self.down = nn.ModuleList()
        for level_index, mult in enumerate(mults):
            level = Level()
            for _ in range(spec["num_res_blocks"]):
                level.block.append(ResBlock(channels, ch * mult, temb))
                channels = ch * mult
                if resolution in spec["attention_resolutions"]:
                    level.attn.append(AttentionBlock(channels))
                skip_channels.append(channels)
            if level_index != len(mults) - 1:
                if spec["resblock_updown"]:
                    level.downsample = ResBlock(channels, channels, temb, "down")
                else:
                    level.downsample = nn.Conv2d(channels, channels, 3, stride=2, padding=1)
                resolution //= 2
                skip_channels.append(channels)
            self.down.append(level)

        self.mid = nn.Module()
        self.mid.block1 = ResBlock(channels, channels, temb)
        self.mid.attn = AttentionBlock(channels)
        self.mid.block2 = ResBlock(channels, channels, temb)

        up_levels = [None] * len(mults)
        for level_index in reversed(range(len(mults))):
            level = Level()
            for _ in range(spec["num_res_blocks"] + 1):
                level.block.append(ResBlock(channels + skip_channels.pop(), ch * mults[level_index], temb))
                channels = ch * mults[level_index]
                if resolution in spec["attention_resolutions"]:
                    level.attn.append(AttentionBlock(channels))
            if level_index != 0:
                if spec["resblock_updown"]:
                    level.upsample = ResBlock(channels, channels, temb, "up")
                else:
                    level.upsample = nn.Conv2d(channels, channels, 3, padding=1)
                resolution *= 2
            up_levels[level_index] = level
        self.up = nn.ModuleList(up_levels)  # named up.<level>, run last level first

        self.out = nn.Module()
        self.out.norm = group_norm(channels)
        self.out.conv = nn.Conv2d(channels, spec["image_channels"], 3, padding=1)

    def forward(self, x, t, labels):
        temb = self.time_embed[1](F.silu(self.time_embed[0](sinusoidal_embedding(t, self.spec["channels"]))))
        temb = F.silu(temb + self.class_embed(labels))
        h = self.conv_in(x)
        skips = [h]
        for level in self.down:
            for i, block in enumerate(level.block):
                h = block(h, temb)
                if len(level.attn):
                    h = level.attn[i](h)
                skips.append(h)
            if hasattr(level, "downsample"):
                h = level.downsample(h, temb) if isinstance(level.downsample, ResBlock) else level.downsample(h)
                skips.append(h)
        h = self.mid.block2(self.mid.attn(self.mid.block1(h, temb)), temb)
        for level in reversed(self.up):
            for i, block in enumerate(level.block):
                h = block(torch.cat([h, skips.pop()], dim=1), temb)
                if len(level.attn):
                    h = level.attn[i](h)
            if hasattr(level, "upsample"):
                if isinstance(level.upsample, ResBlock):
                    h = level.upsample(h, temb)
                else:
                    h = level.upsample(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self.out.conv(F.silu(self.out.norm(h)))


def diffuse_name(module_name, parameter_name, module):
    """PyTorch name -> diffuse name (GroupNorm's weight/bias are gamma/beta)."""
    if isinstance(module, nn.GroupNorm):
        parameter_name = {"weight": "gamma", "bias": "beta"}[parameter_name]
    return f"{module_name}.{parameter_name}"


def to_diffuse_layout(tensor, module):
    array = tensor.detach().cpu().numpy()
    if isinstance(module, nn.Conv2d) and array.ndim == 4:
        array = array.transpose(0, 2, 3, 1)  # [out,in,kh,kw] -> [out,kh,kw,in]
    return array


def round_significant_bits(array, bits):
    """Rounds float32 values to `bits` significant bits (1 implicit + bits-1 stored), to nearest."""
    drop = 24 - bits
    words = np.ascontiguousarray(array, dtype=np.float32).view(np.uint32).astype(np.uint64)
    words = ((words + (1 << (drop - 1))) >> drop) << drop
    return words.astype(np.uint32).view(np.float32)


def randomize(model, generator):
    """Every layer live (scale 1 everywhere, also DDPM's near-zero layers), values with VALUE_BITS bits."""
    with torch.no_grad():
        for module in model.modules():
            for name, parameter in module.named_parameters(recurse=False):
                shape = parameter.shape
                if isinstance(module, nn.Embedding):
                    values = torch.randn(shape, generator=generator, dtype=torch.float64)
                elif isinstance(module, nn.GroupNorm):
                    base = 1.0 if name == "weight" else 0.0
                    values = base + 0.2 * (2 * torch.rand(shape, generator=generator, dtype=torch.float64) - 1)
                elif name == "bias":
                    values = 0.2 * (2 * torch.rand(shape, generator=generator, dtype=torch.float64) - 1)
                else:  # fan-avg uniform, scale 1: receptive field * in, receptive field * out
                    receptive = shape[2] * shape[3] if len(shape) == 4 else 1
                    fan_in, fan_out = receptive * shape[1], receptive * shape[0]
                    limit = math.sqrt(3.0 / ((fan_in + fan_out) / 2.0))
                    values = limit * (2 * torch.rand(shape, generator=generator, dtype=torch.float64) - 1)
                parameter.copy_(torch.from_numpy(round_significant_bits(values.numpy(), VALUE_BITS).astype(np.float64)))


def open_reproducible(path):
    """A new HDF5 file without timestamps (same inputs, same bytes) and with HDF5 1.10 metadata, which with
    contiguous small datasets keeps the per-dataset overhead low."""
    creation = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    creation.set_obj_track_times(False)
    access = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    access.set_libver_bounds(h5py.h5f.LIBVER_V110, h5py.h5f.LIBVER_V110)
    return h5py.File(h5py.h5f.create(path.encode(), h5py.h5f.ACC_TRUNC, fcpl=creation, fapl=access))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--adm", action="store_true", help="every ADM option on (default output unet_tiny_adm.h5)")
    parser.add_argument("--output")
    args = parser.parse_args()
    global SPEC
    SPEC = ADM_SPEC if args.adm else DDPM_SPEC
    if args.output is None:
        args.output = "tests/reference/unet_tiny_adm.h5" if args.adm else "tests/reference/unet_tiny.h5"

    torch.manual_seed(SEED)
    generator = torch.Generator().manual_seed(SEED)
    model = UNet(SPEC).double()
    randomize(model, generator)

    image_shape = (BATCH, SPEC["image_size"], SPEC["image_size"], SPEC["image_channels"])
    x_nhwc = round_significant_bits(torch.randn(image_shape, generator=generator).numpy(), VALUE_BITS)
    projection = round_significant_bits(torch.randn(image_shape, generator=generator).numpy(), VALUE_BITS)
    t = np.array([37.0, 815.5], dtype=np.float32)
    labels = np.array([3, SPEC["num_classes"]], dtype=np.int32)

    x = torch.from_numpy(x_nhwc.astype(np.float64)).permute(0, 3, 1, 2)
    output = model(x, torch.from_numpy(t.astype(np.float64)), torch.from_numpy(labels.astype(np.int64)))
    output_nhwc = output.permute(0, 2, 3, 1)
    (output_nhwc * torch.from_numpy(projection.astype(np.float64))).sum().backward()

    with open_reproducible(args.output) as file:
        group_creation = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
        group_creation.set_obj_track_times(False)
        for group in (b"params", b"grads"):
            h5py.h5g.create(file.id, group, gcpl=group_creation)

        def write(name, data):
            options = dict(compression="gzip", compression_opts=9, shuffle=True) if data.size >= 1024 else {}
            file.create_dataset(name, data=data, track_times=False, **options)  # reproducible bytes

        for key, value in SPEC.items():
            file.attrs[key] = value
        file.attrs["group_norm_eps"] = GROUP_NORM_EPS
        file.attrs["seed"] = SEED
        file.attrs["source"] = "tests/reference/make_unet_fixture.py (PyTorch %s, float64)" % torch.__version__
        write("x", x_nhwc)
        write("t", t)
        write("labels", labels)
        write("output", output_nhwc.detach().numpy().astype(np.float32))
        write("projection", projection)
        count = 0
        for module_name, module in model.named_modules():
            for parameter_name, parameter in module.named_parameters(recurse=False):
                name = diffuse_name(module_name, parameter_name, module)
                write("params/" + name, to_diffuse_layout(parameter, module).astype(np.float32))
                grad = round_significant_bits(to_diffuse_layout(parameter.grad, module).astype(np.float32), GRAD_BITS)
                write("grads/" + name, grad)
                count += parameter.numel()
        file.attrs["parameter_count"] = count
    print(f"wrote {args.output}: {count} parameters, output max |y| = {output.abs().max().item():.4g}")


if __name__ == "__main__":
    main()
