// The conditioning embeddings of the U-Net, forward and backward.
//
// TimeEmbedding: t [N] -> sinusoidal [N,ch] -> Linear(ch,4ch) -> SiLU ->
// Linear(4ch,4ch) [N,4ch] (DDPM). Parameters <name>.0.weight [4ch,ch],
// <name>.0.bias, <name>.1.weight [4ch,4ch], <name>.1.bias. The gradient with
// respect to t is not computed (timesteps are data, not parameters).
//
// ClassEmbedding: labels [N] -> table rows [N,D], table <name>.weight
// [num_classes + 1, D]. The last row (label == num_classes) means "no class":
// classifier-free guidance trains it on dropped labels and samples with it.
// The table starts Normal(0, 1), PyTorch's nn.Embedding default that
// guided-diffusion-style class-conditional U-Nets use, so every class starts
// distinct; each row receives only its own samples' gradients, so any start works.
//
// Backward ACCUMULATES parameter gradients into the store's gradient views.
// The inputs passed to forward must stay unchanged until backward.
#pragma once

#include <string>

#include "core/tensor.h"
#include "model/linear.h"
#include "model/parameters.h"

namespace diffuse::model {

class TimeEmbedding {
 public:
  // channels: the sinusoid width ch (even, >= 4); output width embedding_channels (4ch in DDPM).
  TimeEmbedding(ParameterStore& store, const std::string& name, int channels, int embedding_channels);

  // t [N] f32 -> temb [N,embedding_channels], a new tensor.
  Tensor forward(const Tensor& t);
  // dtemb [N,embedding_channels]: parameter gradients only.
  void backward(const Tensor& dtemb);

  double macs_per_image() const { return first_.macs_per_row() + second_.macs_per_row(); }
  int64_t activation_bytes(int64_t batch) const;

 private:
  int channels_;
  Linear first_;   // <name>.0, ch -> 4ch
  Linear second_;  // <name>.1, 4ch -> 4ch
  Tensor hidden_;  // [N,4ch] the first linear's output, SiLU's input (the linears keep their own inputs)
};

struct ClassEmbeddingActivations {
  Tensor labels;  // [N] i32 in [0, num_classes] (the caller's tensor)
};

class ClassEmbedding {
 public:
  ClassEmbedding(ParameterStore& store, const std::string& name, int num_classes, int width);

  // labels [N] i32 -> [N,width], a new tensor.
  Tensor forward(const Tensor& labels);
  // drows [N,width]: accumulates into the table's gradient.
  void backward(const Tensor& drows);

  int no_class_label() const { return num_classes_; }

 private:
  ParameterStore* store_;  // told when backward has finished the gradient
  int num_classes_;
  int width_;
  Parameter* table_;  // [num_classes + 1, width]
  ClassEmbeddingActivations activations_;
};

}  // namespace diffuse::model
