#!/bin/bash
# install_packages.sh installs a bake's packages inside the image being built.
# It keeps Rosco's contract so Rosco's templates and Bakehouse's are
# interchangeable: the inputs are the environment variables (or arguments
# --name value / name=value)
#   repository    package sources, several separated by ';'
#                 (deb: "[trusted=yes] file:/bakehouse/repo ./", "http://host/debian stable main")
#   package_type  deb or rpm
#   packages      packages in install order, separated by spaces or commas
#                 (deb: name or name=version; rpm: name or name-version)
#   upgrade       "true" to upgrade the image's packages before installing
#   apt_retries   Bakehouse extra: apt's Acquire::Retries (bake containers have
#                 no network, so the template sets 0 to fail fast on remote sources)
# Packages are installed one at a time, in order, as Rosco does, so a package
# can rely on one installed before it. Credentials in URLs are never echoed.
set -euo pipefail

repository=${repository:-}
package_type=${package_type:-}
packages=${packages:-}
upgrade=${upgrade:-}
apt_retries=${apt_retries:-}

while [ $# -gt 0 ]; do
	case "$1" in
	--repository | --package_type | --packages | --upgrade | --apt_retries)
		[ $# -ge 2 ] || { echo "install_packages: $1 needs a value" >&2; exit 2; }
		printf -v "${1#--}" '%s' "$2"
		shift 2
		;;
	repository=* | package_type=* | packages=* | upgrade=* | apt_retries=*)
		printf -v "${1%%=*}" '%s' "${1#*=}"
		shift
		;;
	*)
		echo "install_packages: unknown argument '$1'" >&2
		exit 2
		;;
	esac
done

# scrub prints its argument with user:password@ removed from URLs.
scrub() { printf '%s\n' "$1" | sed -E 's#(://)[^/@[:space:]]*@#\1#g'; }

# unquote strips one pair of surrounding double quotes, as Rosco's script does.
unquote() { local v=$1; v=${v#\"}; printf '%s' "${v%\"}"; }

repository=$(unquote "$repository")
packages=$(unquote "$packages")
packages=${packages//,/ }

echo "repository=$(scrub "$repository")"
echo "package_type=$package_type"
echo "packages=$packages"
echo "upgrade=$upgrade"

SUDO=
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then
	SUDO="sudo -E"
fi

# sources splits $repository on ';' and prints each entry, trimmed, one a line.
sources() {
	local entry
	IFS=';' read -ra entries <<<"$repository"
	for entry in "${entries[@]}"; do
		entry=$(echo "$entry" | sed -E 's/^[[:space:]]+|[[:space:]]+$//g')
		[ -n "$entry" ] && printf '%s\n' "$entry"
	done
	return 0
}

provision_deb() {
	export DEBIAN_FRONTEND=noninteractive
	local apt=(apt-get -y)
	[ -n "$apt_retries" ] && apt+=(-o "Acquire::Retries=$apt_retries")
	if [ -n "$repository" ]; then
		sources | sed 's/^/deb /' | $SUDO tee /etc/apt/sources.list.d/bakehouse.list >/dev/null
		echo "wrote $(sources | wc -l) source(s) to /etc/apt/sources.list.d/bakehouse.list"
	fi
	$SUDO "${apt[@]}" update
	if [ "$upgrade" = "true" ]; then
		$SUDO "${apt[@]}" -o Dpkg::Options::=--force-confold upgrade
	fi
	local p
	for p in $packages; do
		$SUDO "${apt[@]}" --allow-downgrades install "$p"
	done
}

provision_rpm() {
	local yum=yum
	command -v dnf >/dev/null && yum=dnf
	local n=0 entry
	while read -r entry; do
		n=$((n + 1))
		printf '[bakehouse-%d]\nname=bakehouse-%d\nbaseurl=%s\ngpgcheck=0\nenabled=1\n' "$n" "$n" "$entry" |
			$SUDO tee "/etc/yum.repos.d/bakehouse-$n.repo" >/dev/null
	done < <(sources)
	if [ "$upgrade" = "true" ]; then
		$SUDO "$yum" -y update
	fi
	local p
	for p in $packages; do
		$SUDO "$yum" -y install "$p"
	done
}

case "$package_type" in
deb) provision_deb ;;
rpm) provision_rpm ;;
*)
	echo "install_packages: package_type must be deb or rpm, not '$package_type'" >&2
	exit 1
	;;
esac
