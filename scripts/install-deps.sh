#!/usr/bin/env bash
# install-deps.sh installs, from Debian's packages, what Bakehouse's bakes and
# integration tests run: Packer 1.6.6, a Docker engine, mmdebstrap for base
# images and dpkg-dev for the flat apt repository. CI (.ci/run) and
# `make deps` share it so the two cannot drift. Extra packages may be given
# as arguments. Needs root or sudo.
set -euo pipefail

packages=(packer docker.io mmdebstrap debian-archive-keyring dpkg-dev make ca-certificates busybox openssh-client "$@")

sudo=
if [ "$(id -u)" -ne 0 ]; then
	sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
echo "install-deps: installed ${packages[*]}" >&2
