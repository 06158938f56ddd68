#!/usr/bin/env bash
# Fails, naming each file, when clang-format (the style in .clang-format)
# would change a C source or header that git tracks. Fix with:
#   clang-format -i $(git ls-files '*.c' '*.h')
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "format: clang-format is missing (make setup installs it)" >&2; exit 1; }
bad=0
while IFS= read -r f; do
  if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
    echo "format: $f differs from .clang-format's style" >&2
    bad=1
  fi
done < <(git ls-files '*.c' '*.h' 2>/dev/null || find shared ingress workers tools tests bench examples -name '*.[ch]')
exit $bad
