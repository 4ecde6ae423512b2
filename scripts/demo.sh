#!/usr/bin/env bash
# demo.sh is `make demo`: on a fresh Debian machine it installs what is
# missing, starts a private Docker engine with no network if none answers,
# builds Bakehouse and the sample package, starts the server, bakes the
# package into a Docker image through the API, runs the image, and bakes
# again to show the reuse.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

addr=${BAKEHOUSE_ADDR:-127.0.0.1:8087}
data=${BAKEHOUSE_DATA_DIR:-./bakehouse-data}
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "Installing packer, docker.io, mmdebstrap, dpkg-dev (if missing)"
if command -v packer >/dev/null && command -v dockerd >/dev/null && command -v mmdebstrap >/dev/null && command -v dpkg-scanpackages >/dev/null; then
	echo "already installed"
else
	scripts/install-deps.sh
fi
docker_host=$(scripts/start-dockerd.sh)
export "${docker_host?}"
echo "Docker engine: $DOCKER_HOST (containers get no network)"

say "Building bakehouse and the sample package"
mkdir -p build
go build -o build/bakehouse ./cmd/bakehouse
deb=$(scripts/build-sample-deb.sh build | tail -1)
echo "$deb"

say "Starting the server on $addr (data in $data)"
build/bakehouse serve --addr "$addr" --data-dir "$data" >build/serve.out 2>build/serve.log &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
	[ -s build/serve.out ] && break
	kill -0 $server 2>/dev/null || { cat build/serve.log; exit 1; }
	sleep 0.1
done
url=$(head -1 build/serve.out)
echo "Server: $url"
bh() { build/bakehouse "$1" --server "$url" "${@:2}"; }

say "Baking $(basename "$deb") on bookworm (the first bake builds the base image with mmdebstrap)"
image=$(bh bake --package "$deb" --base-os bookworm --build-number 5 --commit-hash c4baff4)
echo "Image: $image"

say "Running the image: docker run --rm --network=none $image hello-deploy"
docker run --rm --network=none "$image" hello-deploy

say "Baking again with the same inputs"
start=$(date +%s%N)
bh bake --package armory-hello-deploy_0.5.0-h5.c4baff4_all --base-os bookworm --build-number 5 --commit-hash c4baff4
echo "answered in $(( ($(date +%s%N) - start) / 1000000 )) ms"

say "Done. The server log is build/serve.log; bake logs are in $data/logs."
