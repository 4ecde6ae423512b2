#!/usr/bin/env bash
# build-sample-deb.sh OUTDIR [VERSION] builds armory-hello-deploy_0.5.0-h5.c4baff4_all.deb,
# the sample package that demos and tests bake into images. It installs
# /usr/bin/hello-deploy, which prints "hello deploy" and its version.
# VERSION (default 0.5.0-h5.c4baff4) lets tests make several versions of it.
# The build is deterministic (fixed owners, modes, mtimes and SOURCE_DATE_EPOCH),
# so the same bytes come out on every run and a repository's index stays stable.
# Prints the path of the package it wrote.
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	echo "usage: $0 OUTDIR [VERSION]" >&2
	exit 2
fi
command -v dpkg-deb >/dev/null || {
	echo "build-sample-deb: dpkg-deb not found; install it: apt-get install -y dpkg" >&2
	exit 1
}
outdir=$1
name=armory-hello-deploy
version=${2:-0.5.0-h5.c4baff4}
deb="$name"_"$version"_all.deb
export SOURCE_DATE_EPOCH=1490819099 # 2017-03-29, Rosco's sample build date

umask 022
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root="$work/root"
mkdir -p "$root/DEBIAN" "$root/usr/bin"

cat >"$root/DEBIAN/control" <<CONTROL
Package: $name
Version: $version
Architecture: all
Maintainer: Bakehouse <bakehouse@localhost>
Section: misc
Priority: optional
Description: sample package baked by Bakehouse's demos and tests
 Installs /usr/bin/hello-deploy, which prints "hello deploy" and its version.
CONTROL

cat >"$root/usr/bin/hello-deploy" <<SCRIPT
#!/bin/sh
echo "hello deploy $version"
SCRIPT
chmod 0755 "$root/usr/bin/hello-deploy"
chmod 0644 "$root/DEBIAN/control"
find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

mkdir -p "$outdir"
tmp="$outdir/.$deb.tmp.$$"
dpkg-deb --root-owner-group -Zxz --build "$root" "$tmp" >/dev/null
mv -f "$tmp" "$outdir/$deb"
echo "$outdir/$deb"
