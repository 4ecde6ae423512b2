#!/usr/bin/env bash
# install-deps.sh installs, from Debian's packages, what Bakehouse's bakes and
# integration tests run: Packer 1.6.6, a Docker engine, mmdebstrap for base
# images, dpkg-dev for the flat apt repository, PostgreSQL's binaries
# (the postgres store's tests start their own cluster; none is created or
# started by the package) and chromium for the web UI's browser tests
# (chromedp drives it headless). CI (.ci/run) and
# `make deps` share it so the two cannot drift. Extra packages may be given
# as arguments. Needs root or sudo.
set -euo pipefail

packages=(packer docker.io mmdebstrap debian-archive-keyring dpkg-dev make ca-certificates busybox openssh-client postgresql chromium "$@")

sudo=
if [ "$(id -u)" -ne 0 ]; then
	sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
# Debian's postgresql creates and starts a "main" cluster on first install;
# the tests need only the binaries.
$sudo mkdir -p /etc/postgresql-common/createcluster.d
echo "create_main_cluster = false" | $sudo tee /etc/postgresql-common/createcluster.d/bakehouse.conf >/dev/null
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
echo "install-deps: installed ${packages[*]}" >&2
