// TEMPORARY during development: placeholders removed as each op lands.
#include "core/cpu/cpu_backend.h"

namespace diffuse::cpu {}  // namespace diffuse::cpu
