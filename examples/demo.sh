#!/usr/bin/env bash
# demo.sh KILN - the README's demo; filled in as the ML commands land.
set -euo pipefail
"$1" --version
