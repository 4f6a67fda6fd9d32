#!/bin/sh
# Refresh the vendored e-conomic design tokens by hand (never at run time): ./fetch-taco-tokens.sh 3.0.3
set -eu
version="${1:-3.0.3}"
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
curl -fsSL "https://registry.npmjs.org/@economic/taco-tokens/-/taco-tokens-${version}.tgz" | tar xz -C "$tmp"
cp "$tmp/package/tokens/tokens.css" "$here/taco-tokens/tokens.css"
rm -rf "$tmp"
echo "tokens.css from @economic/taco-tokens ${version}"
