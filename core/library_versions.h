// Which cuDNN and NCCL a CUDA build can run with, as a pure rule: the CUDA
// backend checks the loaded libraries against it when it starts
// (core/cuda/runtime.h), and the tests check the rule itself on every build,
// GPU or not.
//
// A library qualifies when it has the major version the binary was built
// against (another major is another soname and ABI) and is at least the
// floor: the oldest release that has every call diffuse makes. An older minor
// than the headers the binary was built with is fine above the floor (a pip
// wheel of cuDNN 9.1 under a toolkit with cuDNN 9.19 headers, say).
#pragma once

#include <string>

namespace diffuse {

// Versions as major * 10000 + minor * 100 + patch (cuDNN 9.19.0 = 91900, NCCL 2.28.9 = 22809).
struct LibraryRequirement {
  std::string library;       // "cuDNN", "NCCL"
  long floor;                // the oldest release with every call diffuse makes
  std::string floor_reason;  // what needs the floor, for the message
  long built;                // the headers' version
  long loaded;               // the library's answer at run time
};

// cuDNN 9.0: the convolution API diffuse calls (cudnnFindConvolution*Algorithm,
// cudnnGetConvolution*Algorithm_v7) is in every cuDNN 9 release.
constexpr long kCudnnFloor = 90000;
// NCCL 2.14: ncclCommInitRankConfig with non-blocking communicators and ncclCommFinalize.
constexpr long kNcclFloor = 21400;

// "" when `loaded` qualifies; otherwise one sentence naming both versions and what to do.
std::string library_version_problem(const LibraryRequirement& requirement);

// "9.19.0" from 91900.
std::string version_text(long version);
// NCCL's own code (ncclGetVersion, NCCL_VERSION_CODE) in the encoding above: releases up to 2.8 encode
// major * 1000 + minor * 100 + patch.
long nccl_version(int code);

}  // namespace diffuse
