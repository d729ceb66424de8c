// TEMPORARY during development: placeholder definitions of group norm, SiLU,
// resampling, element-wise and random ops lived here until each op landed.
// All of them are now implemented (group_norm.cpp, elementwise.cpp,
// resample.cpp, random.cpp); this file defines nothing and can be removed
// from core/CMakeLists.txt.
