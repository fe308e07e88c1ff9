#!/usr/bin/env bash
# Builds a Debian trixie chroot with GIMP 3 and its Python bindings for the real-GIMP integration tests
# (tests/gimp/test_gimp_integration.py). Bookworm hosts only have GIMP 2.10, which has no Python 3.
# Idempotent: a finished chroot is marked with a stamp file and reused. Needs root (debootstrap, chroot);
# without root it prints why and exits 0 so the rest of the suite still runs (the GIMP tests then skip).
set -euo pipefail
cd "$(dirname "$0")/.."

ROOT="${LATENTDRAG_GIMP_CHROOT:-$PWD/.cache/gimp-chroot}"
STAMP="$ROOT/.latentdrag-gimp-ready"
# xvfb and xdotool: the GUI runs of the plug-in (its drag window) are tested in the full GIMP on a virtual display.
PACKAGES="gimp python3-gi gir1.2-gimp-3.0 python3-grpcio python3-protobuf python3-numpy xvfb xdotool"

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$PACKAGES" ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "setup-gimp: not root, skipping the GIMP 3 chroot (real-GIMP tests will be skipped)" >&2
    exit 0
fi

# The Debian mirror this machine already uses (deb822 sources first, then one-line sources.list).
mirror="$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v -- '-security' | head -n1 || true)"
if [ -z "$mirror" ]; then
    mirror="$(grep -hs '^deb ' /etc/apt/sources.list | awk '{print $2}' | grep -v -- '-security' | head -n1 || true)"
fi
mirror="${mirror:-http://deb.debian.org/debian}"

if ! command -v debootstrap >/dev/null; then
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq debootstrap
fi

if [ ! -x "$ROOT/usr/bin/apt-get" ] || [ ! -f "$ROOT/.latentdrag-bootstrapped" ]; then
    # A half-built tree from an interrupted run: start again. Nothing is ever mounted inside it.
    rm -rf "$ROOT"
    mkdir -p "$(dirname "$ROOT")"
    echo "setup-gimp: debootstrap trixie from $mirror into $ROOT" >&2
    debootstrap --variant=minbase --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
        trixie "$ROOT" "$mirror" >/dev/null
    touch "$ROOT/.latentdrag-bootstrapped"
fi

# No services may start inside the chroot.
printf '#!/bin/sh\nexit 101\n' > "$ROOT/usr/sbin/policy-rc.d"
chmod 755 "$ROOT/usr/sbin/policy-rc.d"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true

echo "setup-gimp: installing $PACKAGES" >&2
chroot "$ROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 \
    apt-get update -qq
# shellcheck disable=SC2086
chroot "$ROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 \
    apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null
chroot "$ROOT" apt-get clean
chroot "$ROOT" gimp-console-3.0 --version
echo "$PACKAGES" > "$STAMP"
