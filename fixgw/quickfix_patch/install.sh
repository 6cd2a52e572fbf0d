#!/bin/sh
# Install fixgw's build of QuickFIX 1.16.0 into the Python environment given as $1.
#
# The PyPI source of quickfix 1.16.0 with quickfix-1.16.0.patch applied (README.md here says
# what the patch changes and why). The wheel is built once per patch and kept in
# ${FIXGW_WHEELS:-$HOME/.cache/fixgw/wheels}, so later installs take seconds; the first takes
# about 10 minutes on one core.
set -eu
python=$1
here=$(cd "$(dirname "$0")" && pwd)
patch_file=$here/quickfix-1.16.0.patch
label=fixgw.$(sha256sum "$patch_file" | cut -c1-12)
version=1.16.0+$label
wheels=${FIXGW_WHEELS:-$HOME/.cache/fixgw/wheels}
mkdir -p "$wheels"

installed=$("$python" -c 'import importlib.metadata as m; print(m.version("quickfix"))' 2>/dev/null || true)
if [ "$installed" = "$version" ]; then
    exit 0
fi
wheel=$(ls "$wheels"/quickfix-"$version"-*.whl 2>/dev/null | head -n 1 || true)
if [ -z "$wheel" ]; then
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    echo "building QuickFIX $version (once; about 10 minutes)"
    "$python" -m pip download --quiet --no-deps --no-binary :all: quickfix==1.16.0 -d "$work"
    tar -xzf "$work"/quickfix-1.16.0.tar.gz -C "$work"
    (cd "$work"/quickfix-1.16.0 && patch --quiet -p1 < "$patch_file")
    sed -i "s/^version = 1.16.0$/version = $version/" "$work"/quickfix-1.16.0/setup.cfg
    "$python" -m pip wheel --quiet --no-deps -w "$work"/dist "$work"/quickfix-1.16.0
    cp "$work"/dist/quickfix-"$version"-*.whl "$wheels"/
    wheel=$(ls "$wheels"/quickfix-"$version"-*.whl | head -n 1)
fi
"$python" -m pip install --quiet --force-reinstall --no-deps "$wheel"
