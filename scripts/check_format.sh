#!/usr/bin/env bash
# Checks that every C++ and CUDA source follows .clang-format (Google style, 120 columns).
# Lists the files clang-format would change and exits non-zero if there are any; changes nothing.
# Fix them with: clang-format -i FILE...
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v clang-format >/dev/null; then
  echo "check_format: clang-format not found; scripts/setup.sh installs it (Debian package clang-format)" >&2
  exit 1
fi

# The tracked sources in a git checkout; outside one (a source archive), every source but the build folders.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t sources < <(git ls-files -- '*.h' '*.cpp' '*.cu' '*.cuh')
else
  mapfile -t sources < <(find . \( -path './build*' -o -path './gpu-deps' -o -path './.git' \) -prune -o -type f \
    \( -name '*.h' -o -name '*.cpp' -o -name '*.cu' -o -name '*.cuh' \) -print | sed 's|^\./||' | sort)
fi

unformatted=()
for source in "${sources[@]}"; do
  [[ -f $source ]] || continue  # deleted in the work tree, not yet in git
  if ! clang-format --dry-run --Werror "$source" >/dev/null 2>&1; then unformatted+=("$source"); fi
done

if ((${#unformatted[@]})); then
  echo "check_format: ${#unformatted[@]} of ${#sources[@]} files differ from .clang-format:"
  printf '  %s\n' "${unformatted[@]}"
  echo "Fix them with: clang-format -i ${unformatted[*]}"
  exit 1
fi
echo "check_format: all ${#sources[@]} files follow .clang-format"
