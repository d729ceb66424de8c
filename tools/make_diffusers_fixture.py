#!/usr/bin/env python3
"""Writes tests/reference/diffusers_tiny/ and tests/reference/diffusers_tiny_adm/ with Hugging Face diffusers, for
tests/run/test_diffusers.cpp. Each holds:

  model/config.json, model/diffusion_pytorch_model.safetensors
      a UNet2DModel in diffuse's architecture (the model section of the directory's model.yaml,
      run/diffusers_layout.h), class-conditional, every weight seeded random, saved by save_pretrained;
      diffusers_tiny_adm's has every ADM option on (scale_shift_norm, num_head_channels, resblock_updown)
  io.safetensors
      "sample" [2,2,8,8] (NCHW), "timestep" [2], "class_labels" [2] (as float32) and "output" [2,2,8,8], the model's
      output on them in float32

`diffuse import --from model --config model.yaml` must give a model whose output matches.

Usage, with the versions the fixture was made with (Debian bookworm's python3-torch 1.13.1, diffusers 0.27.2,
huggingface_hub 0.23.4, safetensors 0.4.3):
  apt-get install -y python3-torch python3-venv
  /usr/bin/python3 -m venv --system-site-packages /tmp/diffusers-venv
  /tmp/diffusers-venv/bin/pip install diffusers==0.27.2 huggingface_hub==0.23.4 safetensors==0.4.3
  /tmp/diffusers-venv/bin/python tools/make_diffusers_fixture.py [--output tests/reference]
"""
import argparse
import os

import torch
from diffusers import UNet2DModel
from safetensors.torch import save_file

# model.yaml's model section in diffusers' terms.
CONFIG = dict(
    sample_size=8,
    in_channels=2,
    out_channels=2,
    time_embedding_type="positional",
    flip_sin_to_cos=False,
    freq_shift=1,
    down_block_types=("DownBlock2D", "AttnDownBlock2D"),
    up_block_types=("AttnUpBlock2D", "UpBlock2D"),
    block_out_channels=(8, 16),
    layers_per_block=1,
    downsample_padding=1,
    act_fn="silu",
    attention_head_dim=None,
    norm_num_groups=4,
    norm_eps=1e-6,
    num_class_embeds=4,  # 3 classes and "no class"
)

# diffusers_tiny_adm/model.yaml's: three levels so that every resampling block kind is there (attention at
# resolution 4 only), scale_shift_norm as "scale_shift", num_head_channels 4 as attention_head_dim (4 heads in
# the 16-channel blocks), resblock_updown as the "resnet" resamplers and the Resnet*sampleBlock2D blocks;
# attn_norm_num_groups because without it a "scale_shift" model's mid-block attention has no GroupNorm.
ADM_CONFIG = dict(
    CONFIG,
    down_block_types=("ResnetDownsampleBlock2D", "AttnDownBlock2D", "ResnetDownsampleBlock2D"),
    up_block_types=("ResnetUpsampleBlock2D", "AttnUpBlock2D", "ResnetUpsampleBlock2D"),
    block_out_channels=(8, 16, 16),
    downsample_type="resnet",
    upsample_type="resnet",
    attention_head_dim=4,
    resnet_time_scale_shift="scale_shift",
    attn_norm_num_groups=4,
)

FIXTURES = {"diffusers_tiny": CONFIG, "diffusers_tiny_adm": ADM_CONFIG}


def write_fixture(config, output):
    torch.manual_seed(0)
    model = UNet2DModel(**config).eval()
    with torch.no_grad():
        # Default inits leave norms at 1/0 and biases small: move everything so that every tensor matters.
        for parameter in model.parameters():
            parameter.add_(0.2 * torch.randn_like(parameter))
    model.save_pretrained(os.path.join(output, "model"), safe_serialization=True)

    sample = torch.randn(2, 2, 8, 8)
    timestep = torch.tensor([3.0, 917.0])
    class_labels = torch.tensor([1, 3])  # a class and "no class"
    with torch.no_grad():
        out = model(sample, timestep, class_labels=class_labels).sample
    save_file(
        {"sample": sample, "timestep": timestep, "class_labels": class_labels.float(), "output": out.contiguous()},
        os.path.join(output, "io.safetensors"),
        metadata={"format": "pt", "source": "make_diffusers_fixture.py"},
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--output", default="tests/reference")
    output = parser.parse_args().output
    for name, config in FIXTURES.items():
        write_fixture(config, os.path.join(output, name))


if __name__ == "__main__":
    main()
