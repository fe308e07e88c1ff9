#!/usr/bin/env bash
# Installs Krita 5 and what its Python needs for the real-Krita integration tests (tests/krita/).
# Debian/Ubuntu only; idempotent and quick when everything is already there. Needs root (or password-less
# sudo); without, it says so and the real-Krita tests skip.
set -euo pipefail
packages=(krita python3-pyqt5 python3-grpcio python3-protobuf xvfb xauth)
missing=()
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null; then
    echo "setup-krita: apt-get not found; install ${missing[*]} by hand to run the Krita tests" >&2
    exit 0
fi
as_root=()
if [ "$(id -u)" -ne 0 ]; then
    if ! sudo -n true 2>/dev/null; then
        echo "setup-krita: not root and no password-less sudo; install ${missing[*]} by hand to run the" \
             "real-Krita tests (they are skipped until then)" >&2
        exit 0
    fi
    as_root=(sudo -n)
fi
echo "setup-krita: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
