"""diffusers_forward.py MODEL_DIR IO.safetensors [CLASSES]: loads MODEL_DIR with UNet2DModel.from_pretrained, runs
it on a fixed input (seeded: "sample" NCHW, "timestep", and "class_labels" when CLASSES is given, the last one
"no class"), and writes the input and diffusers' "output" to IO.safetensors; prints the parameter count.
Run by tests/cli/test_diffusers.sh in a venv with diffusers (see that script)."""
import sys

import torch
from diffusers import UNet2DModel
from safetensors.torch import save_file  # diffusers 0.27.2 reads safetensors only once this module is imported

model_dir, io_path = sys.argv[1], sys.argv[2]
classes = int(sys.argv[3]) if len(sys.argv) > 3 else 0
model = UNet2DModel.from_pretrained(model_dir).eval()
size, channels = model.config.sample_size, model.config.in_channels
generator = torch.Generator().manual_seed(0)
tensors = {
    "sample": torch.randn(3, channels, size, size, generator=generator),
    "timestep": torch.tensor([0.0, 421.0, 999.0]),
}
if classes:
    tensors["class_labels"] = torch.tensor([0.0, classes - 1.0, float(classes)])
with torch.no_grad():
    labels = tensors["class_labels"].long() if classes else None
    tensors["output"] = model(tensors["sample"], tensors["timestep"], class_labels=labels).sample.contiguous()
save_file(tensors, io_path)
print(f"parameters {sum(p.numel() for p in model.parameters())}")
