// TEMPORARY during development: the GEMM-shaped ops now live in conv.cpp,
// linear.cpp and attention.cpp; this file holds no definitions and can be
// removed from core/CMakeLists.txt.
