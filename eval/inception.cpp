// The FID Inception-v3: the conv table, BatchNorm folding and the block forwards.
#include "eval/inception.h"

#include <algorithm>
#include <cmath>

namespace diffuse::eval {

namespace {

enum class Padding { kValid, kSame };  // none, or (k - 1) / 2 per axis

struct ConvEntry {
  std::string name;
  Shape shape;  // [out,kh,kw,in]
  int stride;
  Padding padding;
};

// Every conv of the network with its weight shape. Stride-2 convs and four stem convs are unpadded; all
// others keep the size.
std::vector<ConvEntry> conv_table() {
  std::vector<ConvEntry> table = {{"Conv2d_1a_3x3", {32, 3, 3, 3}, 2, Padding::kValid},
                                  {"Conv2d_2a_3x3", {32, 3, 3, 32}, 1, Padding::kValid},
                                  {"Conv2d_2b_3x3", {64, 3, 3, 32}, 1, Padding::kSame},
                                  {"Conv2d_3b_1x1", {80, 1, 1, 64}, 1, Padding::kValid},
                                  {"Conv2d_4a_3x3", {192, 3, 3, 80}, 1, Padding::kValid}};
  const auto add = [&](const std::string& block, const char* branch, int64_t out, int64_t kh, int64_t kw, int64_t in,
                       int stride = 1) {
    table.push_back({block + "." + branch, {out, kh, kw, in}, stride, stride == 2 ? Padding::kValid : Padding::kSame});
  };
  const std::pair<const char*, std::pair<int64_t, int64_t>> a_blocks[] = {
      {"Mixed_5b", {192, 32}}, {"Mixed_5c", {256, 64}}, {"Mixed_5d", {288, 64}}};
  for (const auto& [block, sizes] : a_blocks) {
    const auto [in, pool_features] = sizes;
    add(block, "branch1x1", 64, 1, 1, in);
    add(block, "branch5x5_1", 48, 1, 1, in);
    add(block, "branch5x5_2", 64, 5, 5, 48);
    add(block, "branch3x3dbl_1", 64, 1, 1, in);
    add(block, "branch3x3dbl_2", 96, 3, 3, 64);
    add(block, "branch3x3dbl_3", 96, 3, 3, 96);
    add(block, "branch_pool", pool_features, 1, 1, in);
  }
  add("Mixed_6a", "branch3x3", 384, 3, 3, 288, 2);
  add("Mixed_6a", "branch3x3dbl_1", 64, 1, 1, 288);
  add("Mixed_6a", "branch3x3dbl_2", 96, 3, 3, 64);
  add("Mixed_6a", "branch3x3dbl_3", 96, 3, 3, 96, 2);
  const std::pair<const char*, int64_t> c_blocks[] = {
      {"Mixed_6b", 128}, {"Mixed_6c", 160}, {"Mixed_6d", 160}, {"Mixed_6e", 192}};
  for (const auto& [block, c7] : c_blocks) {
    add(block, "branch1x1", 192, 1, 1, 768);
    add(block, "branch7x7_1", c7, 1, 1, 768);
    add(block, "branch7x7_2", c7, 1, 7, c7);
    add(block, "branch7x7_3", 192, 7, 1, c7);
    add(block, "branch7x7dbl_1", c7, 1, 1, 768);
    add(block, "branch7x7dbl_2", c7, 7, 1, c7);
    add(block, "branch7x7dbl_3", c7, 1, 7, c7);
    add(block, "branch7x7dbl_4", c7, 7, 1, c7);
    add(block, "branch7x7dbl_5", 192, 1, 7, c7);
    add(block, "branch_pool", 192, 1, 1, 768);
  }
  add("Mixed_7a", "branch3x3_1", 192, 1, 1, 768);
  add("Mixed_7a", "branch3x3_2", 320, 3, 3, 192, 2);
  add("Mixed_7a", "branch7x7x3_1", 192, 1, 1, 768);
  add("Mixed_7a", "branch7x7x3_2", 192, 1, 7, 192);
  add("Mixed_7a", "branch7x7x3_3", 192, 7, 1, 192);
  add("Mixed_7a", "branch7x7x3_4", 192, 3, 3, 192, 2);
  const std::pair<const char*, int64_t> e_blocks[] = {{"Mixed_7b", 1280}, {"Mixed_7c", 2048}};
  for (const auto& [block, in] : e_blocks) {
    add(block, "branch1x1", 320, 1, 1, in);
    add(block, "branch3x3_1", 384, 1, 1, in);
    add(block, "branch3x3_2a", 384, 1, 3, 384);
    add(block, "branch3x3_2b", 384, 3, 1, 384);
    add(block, "branch3x3dbl_1", 448, 1, 1, in);
    add(block, "branch3x3dbl_2", 384, 3, 3, 448);
    add(block, "branch3x3dbl_3a", 384, 1, 3, 384);
    add(block, "branch3x3dbl_3b", 384, 3, 1, 384);
    add(block, "branch_pool", 192, 1, 1, in);
  }
  std::sort(table.begin(), table.end(), [](const ConvEntry& a, const ConvEntry& b) { return a.name < b.name; });
  return table;
}

const Tensor& weight(const WeightMap& weights, const std::string& name) {
  const auto found = weights.find(name);
  DIFFUSE_CHECK(found != weights.end(), "weight '", name,
                "' is missing (convert the PyTorch checkpoint with "
                "tools/convert_inception_weights.py)");
  return found->second;
}

FoldedConv fold(const WeightMap& weights, const ConvEntry& entry) {
  const Tensor& kernel = weight(weights, entry.name + ".conv.weight");
  DIFFUSE_CHECK(kernel.shape() == entry.shape, "weight '", entry.name, ".conv.weight' has shape ",
                shape_string(kernel.shape()), " but Inception-v3 needs ", shape_string(entry.shape),
                " ([out,kh,kw,in])");
  const int64_t out = kernel.dim(0), per_out = kernel.numel() / out;
  const float* gamma = weight(weights, entry.name + ".bn.weight").f32();
  const float* beta = weight(weights, entry.name + ".bn.bias").f32();
  const float* mean = weight(weights, entry.name + ".bn.running_mean").f32();
  const float* variance = weight(weights, entry.name + ".bn.running_var").f32();
  for (const char* part : {".bn.weight", ".bn.bias", ".bn.running_mean", ".bn.running_var"})
    DIFFUSE_CHECK(weight(weights, entry.name + part).shape() == Shape{out}, "weight '", entry.name, part,
                  "' must have shape [", out, "]");
  FoldedConv conv;
  conv.name = entry.name;
  conv.weight = Tensor::empty(kernel.shape());
  conv.bias = Tensor::empty({out});
  for (int64_t o = 0; o < out; ++o) {
    const double scale = gamma[o] / std::sqrt(static_cast<double>(variance[o]) + kInceptionBatchNormEps);
    for (int64_t i = 0; i < per_out; ++i)
      conv.weight.f32()[o * per_out + i] = static_cast<float>(kernel.f32()[o * per_out + i] * scale);
    conv.bias.f32()[o] = static_cast<float>(beta[o] - mean[o] * scale);
  }
  const bool same = entry.padding == Padding::kSame;
  conv.window = ops::Conv2dWindow{entry.stride, same ? static_cast<int>(kernel.dim(1) - 1) / 2 : 0,
                                  same ? static_cast<int>(kernel.dim(2) - 1) / 2 : 0};
  return conv;
}

// Channel concatenation of several NHWC tensors, in order.
Tensor concat_all(const std::vector<Tensor>& parts) {
  Tensor result = parts.front();
  for (size_t i = 1; i < parts.size(); ++i) {
    const Tensor& next = parts[i];
    Tensor joined = Tensor::empty({result.dim(0), result.dim(1), result.dim(2), result.dim(3) + next.dim(3)});
    ops::concat_channels(result, next, joined);
    result = joined;
  }
  return result;
}

Tensor pool(const Tensor& x, const ops::Pool2dWindow& window, bool max) {
  const int64_t ho = (x.dim(1) + 2 * window.padding - window.kernel) / window.stride + 1;
  const int64_t wo = (x.dim(2) + 2 * window.padding - window.kernel) / window.stride + 1;
  Tensor y = Tensor::empty({x.dim(0), ho, wo, x.dim(3)});
  if (max) {
    ops::max_pool2d_forward(x, y, window);
  } else {
    ops::avg_pool2d_forward(x, y, window);
  }
  return y;
}

constexpr ops::Pool2dWindow kReductionPool{3, 2, 0};  // max pool 3x3 stride 2 (stem and reductions)
constexpr ops::Pool2dWindow kBranchPool{3, 1, 1};     // 3x3 stride 1 padding 1 (branch pools)

}  // namespace

FeatureNetworkInfo inception_info() {
  FeatureNetworkInfo info;
  info.kind = kInceptionKind;
  info.architecture =
      "Inception-v3 of pytorch-fid (FIDInceptionA/C/E, TF 2015-12-05 graph): 299x299 bilinear resize, "
      "pool3 features";
  info.image_size = 0;
  info.image_channels = 0;
  info.feature_dim = kInceptionFeatures;
  info.num_classes = 0;
  return info;
}

std::vector<std::pair<std::string, Shape>> inception_conv_shapes() {
  std::vector<std::pair<std::string, Shape>> shapes;
  for (const ConvEntry& entry : conv_table()) shapes.emplace_back(entry.name, entry.shape);
  return shapes;
}

InceptionNetwork::InceptionNetwork(const FeatureFile& file) : info_(file.info) {
  DIFFUSE_CHECK(info_.kind == kInceptionKind, "not an Inception file (kind '", info_.kind, "')");
  DIFFUSE_CHECK(info_.feature_dim == kInceptionFeatures, "feature_dim is ", info_.feature_dim, ", expected ",
                kInceptionFeatures);
  for (const ConvEntry& entry : conv_table()) convs_.push_back(fold(file.weights, entry));
}

const FoldedConv& InceptionNetwork::conv(const std::string& name) const {
  const auto found = std::lower_bound(convs_.begin(), convs_.end(), name,
                                      [](const FoldedConv& c, const std::string& key) { return c.name < key; });
  DIFFUSE_CHECK(found != convs_.end() && found->name == name, "Inception has no conv named '", name, "'");
  return *found;
}

Tensor InceptionNetwork::apply(const std::string& name, const Tensor& x) const {
  const FoldedConv& c = conv(name);
  const int64_t kh = c.weight.dim(1), kw = c.weight.dim(2);
  const int64_t ho = (x.dim(1) + 2 * c.window.pad_h - kh) / c.window.stride + 1;
  const int64_t wo = (x.dim(2) + 2 * c.window.pad_w - kw) / c.window.stride + 1;
  Tensor y = Tensor::empty({x.dim(0), ho, wo, c.weight.dim(0)});
  ops::conv2d_forward(x, c.weight, c.bias, y, c.window);
  ops::relu_forward(y, y);
  return y;
}

Tensor InceptionNetwork::inception_a(const std::string& block, const Tensor& x) const {
  const std::string b = block + ".";
  const Tensor branch1x1 = apply(b + "branch1x1", x);
  const Tensor branch5x5 = apply(b + "branch5x5_2", apply(b + "branch5x5_1", x));
  const Tensor branch3x3dbl = apply(b + "branch3x3dbl_3", apply(b + "branch3x3dbl_2", apply(b + "branch3x3dbl_1", x)));
  const Tensor branch_pool = apply(b + "branch_pool", pool(x, kBranchPool, false));
  return concat_all({branch1x1, branch5x5, branch3x3dbl, branch_pool});
}

Tensor InceptionNetwork::inception_b(const std::string& block, const Tensor& x) const {
  const std::string b = block + ".";
  const Tensor branch3x3 = apply(b + "branch3x3", x);
  const Tensor branch3x3dbl = apply(b + "branch3x3dbl_3", apply(b + "branch3x3dbl_2", apply(b + "branch3x3dbl_1", x)));
  return concat_all({branch3x3, branch3x3dbl, pool(x, kReductionPool, true)});
}

Tensor InceptionNetwork::inception_c(const std::string& block, const Tensor& x) const {
  const std::string b = block + ".";
  const Tensor branch1x1 = apply(b + "branch1x1", x);
  Tensor branch7x7 = x;
  for (const char* step : {"branch7x7_1", "branch7x7_2", "branch7x7_3"}) branch7x7 = apply(b + step, branch7x7);
  Tensor branch7x7dbl = x;
  for (const char* step : {"branch7x7dbl_1", "branch7x7dbl_2", "branch7x7dbl_3", "branch7x7dbl_4", "branch7x7dbl_5"})
    branch7x7dbl = apply(b + step, branch7x7dbl);
  const Tensor branch_pool = apply(b + "branch_pool", pool(x, kBranchPool, false));
  return concat_all({branch1x1, branch7x7, branch7x7dbl, branch_pool});
}

Tensor InceptionNetwork::inception_d(const std::string& block, const Tensor& x) const {
  const std::string b = block + ".";
  const Tensor branch3x3 = apply(b + "branch3x3_2", apply(b + "branch3x3_1", x));
  Tensor branch7x7x3 = x;
  for (const char* step : {"branch7x7x3_1", "branch7x7x3_2", "branch7x7x3_3", "branch7x7x3_4"})
    branch7x7x3 = apply(b + step, branch7x7x3);
  return concat_all({branch3x3, branch7x7x3, pool(x, kReductionPool, true)});
}

Tensor InceptionNetwork::inception_e(const std::string& block, const Tensor& x, bool max_pool_branch) const {
  const std::string b = block + ".";
  const Tensor branch1x1 = apply(b + "branch1x1", x);
  const Tensor branch3x3 = apply(b + "branch3x3_1", x);
  const Tensor branch3x3dbl = apply(b + "branch3x3dbl_2", apply(b + "branch3x3dbl_1", x));
  const Tensor branch_pool = apply(b + "branch_pool", pool(x, kBranchPool, max_pool_branch));
  return concat_all({branch1x1, apply(b + "branch3x3_2a", branch3x3), apply(b + "branch3x3_2b", branch3x3),
                     apply(b + "branch3x3dbl_3a", branch3x3dbl), apply(b + "branch3x3dbl_3b", branch3x3dbl),
                     branch_pool});
}

void InceptionNetwork::compute(const Tensor& images, const Tensor& features, const Tensor& logits) {
  DIFFUSE_CHECK(!logits.defined(), "the Inception network has no class head");
  Tensor rgb = images;
  if (images.dim(3) == 1) rgb = concat_all({images, images, images});
  Tensor x = Tensor::empty({images.dim(0), kInceptionResolution, kInceptionResolution, 3});
  ops::resize_bilinear_forward(rgb, x);
  x = apply("Conv2d_2b_3x3", apply("Conv2d_2a_3x3", apply("Conv2d_1a_3x3", x)));
  x = pool(x, kReductionPool, true);
  x = pool(apply("Conv2d_4a_3x3", apply("Conv2d_3b_1x1", x)), kReductionPool, true);
  for (const char* block : {"Mixed_5b", "Mixed_5c", "Mixed_5d"}) x = inception_a(block, x);
  x = inception_b("Mixed_6a", x);
  for (const char* block : {"Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e"}) x = inception_c(block, x);
  x = inception_d("Mixed_7a", x);
  x = inception_e("Mixed_7b", x, false);
  x = inception_e("Mixed_7c", x, true);
  ops::global_avg_pool_forward(x, features);
}

}  // namespace diffuse::eval
