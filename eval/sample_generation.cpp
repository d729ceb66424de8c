// Evaluation samples as 8-bit pixels.
#include "eval/sample_generation.h"

#include "io/pixels.h"

namespace diffuse::eval {

void quantize_to_8bit(const Tensor& images) {
  float* values = images.f32();
  for (int64_t i = 0; i < images.numel(); ++i) values[i] = from_pixel(to_pixel(values[i]));
}

}  // namespace diffuse::eval
