// Time and class embeddings forward and backward.
#include "model/embeddings.h"

#include "core/ops.h"

namespace diffuse::model {

TimeEmbedding::TimeEmbedding(ParameterStore& store, const std::string& name, int channels, int embedding_channels)
    : channels_(channels),
      first_(store, name + ".0", {channels, embedding_channels, 1.0f}),
      second_(store, name + ".1", {embedding_channels, embedding_channels, 1.0f}) {
  DIFFUSE_CHECK(channels >= 4 && channels % 2 == 0, "time embedding '", name, "': sinusoid width ", channels,
                " must be even and >= 4");
}

Tensor TimeEmbedding::forward(const Tensor& t) {
  DIFFUSE_CHECK(t.rank() == 1, "timesteps must be [N], got ", t.describe());
  const Tensor sinusoidal = new_f32({t.dim(0), channels_}, t.device());
  ops::timestep_embedding_forward(t, sinusoidal);
  const Tensor hidden = first_.forward(sinusoidal);
  const Tensor activated = new_f32(hidden.shape(), hidden.device());
  ops::silu_forward(hidden, activated);
  keep_for_backward(hidden_, hidden);
  return second_.forward(activated);
}

void TimeEmbedding::backward(const Tensor& dtemb) {
  const Tensor hidden = take_kept(hidden_, "time embedding");
  const Tensor dactivated = second_.backward(dtemb);
  // In place: SiLU backward is element-wise and dactivated is ours to overwrite.
  ops::silu_backward(hidden, dactivated, dactivated);
  first_.backward(dactivated, InputGradient::kSkip);
}

int64_t TimeEmbedding::activation_bytes(int64_t batch) const {
  return f32_bytes({batch, channels_}) + first_.activation_bytes(batch) +
         f32_bytes({batch, first_.spec().out_features}) + second_.activation_bytes(batch);
}

ClassEmbedding::ClassEmbedding(ParameterStore& store, const std::string& name, int num_classes, int width)
    : store_(&store), num_classes_(num_classes), width_(width) {
  DIFFUSE_CHECK(num_classes > 0 && width > 0, "class embedding '", name, "' needs classes and a width");
  table_ = store.declare(name + ".weight", {num_classes + 1, width}, {InitRule::kNormal, 1.0f});
}

Tensor ClassEmbedding::forward(const Tensor& labels) {
  DIFFUSE_CHECK(labels.defined() && labels.rank() == 1 && labels.dtype() == DType::I32,
                "class labels must be i32 [N], got ", labels.describe());
  const Tensor rows = new_f32({labels.dim(0), width_}, labels.device());
  ops::embedding_forward(table_->value, labels, rows);
  keep_for_backward(activations_.labels, labels);
  return rows;
}

void ClassEmbedding::backward(const Tensor& drows) {
  const Tensor labels = take_kept(activations_.labels, "class embedding");
  ops::embedding_backward(labels, drows, table_->grad);
  store_->gradient_ready(*table_);
}

}  // namespace diffuse::model
