// compare_with_diffusers CKPT EMA IO.safetensors: runs the checkpoint's weights EMA ("none", "first" or a rate, as
// `diffuse export --ema` takes them) on the diffusers inputs of
// IO.safetensors ("sample" NCHW, "timestep", "class_labels"; tests/support/nchw_forward.h) and compares with its
// "output", what diffusers' UNet2DModel computed. Prints the largest difference relative to the largest output;
// exit status 1 when it exceeds 1e-4.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/error.h"
#include "run/checkpoint_model.h"
#include "tests/support/nchw_forward.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: compare_with_diffusers CKPT EMA IO.safetensors\n");
    return 2;
  }
  try {
    const auto loaded = diffuse::load_checkpoint_model(argv[1], argv[2]);
    const diffuse::SafetensorsReader io(argv[3]);
    const diffuse::Tensor ours = diffuse::testing::nchw_forward(*loaded->unet, io);
    const diffuse::Tensor theirs = io.read_f32("output");
    DIFFUSE_CHECK(ours.shape() == theirs.shape(), "our output is ", ours.describe(), ", diffusers' ",
                  theirs.describe());
    double largest = 0.0, difference = 0.0;
    for (int64_t i = 0; i < ours.numel(); ++i) {
      largest = std::max(largest, std::abs(static_cast<double>(theirs.f32()[i])));
      difference = std::max(difference, std::abs(static_cast<double>(ours.f32()[i]) - theirs.f32()[i]));
    }
    const double relative = difference / largest;
    std::printf("max |ours - diffusers| %.3g, largest |output| %.3g, relative %.3g\n", difference, largest, relative);
    return relative <= 1e-4 ? 0 : 1;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "error: %s\n", error.what());
    return 2;
  }
}
