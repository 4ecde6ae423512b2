#!/bin/sh
# install_packages.sh installs a bake's packages inside the image being built.
# It keeps Rosco's contract so Rosco's templates and Bakehouse's are
# interchangeable: the inputs are the environment variables (or arguments
# --name value / name=value)
#   repository       package sources, several separated by ';'
#                    (deb: "[trusted=yes] file:/bakehouse/repo ./", "http://host/debian stable main";
#                    rpm: a baseurl each)
#   package_type     deb or rpm
#   packages         packages in install order, separated by spaces or commas
#                    (deb: name or name=version; rpm: name or name-version)
#   upgrade          "true" to upgrade the image's packages before installing
#   disable_services "true" in a chroot bake (amazon-chroot): no service is
#                    started while packages install (policy-rc.d on deb)
#   apt_retries      Bakehouse extra: apt's Acquire::Retries (bake containers have
#                    no network, so the docker template sets 0 to fail fast)
#   boot_wait        Bakehouse extra: seconds to wait for cloud-init to finish
#                    booting an instance before apt/yum run (default 300)
#   etc_dir          Bakehouse extra, for tests: where apt/yum configuration goes
#                    (default /etc)
# Packages are installed one at a time, in order, as Rosco does, so a package
# can rely on one installed before it. Credentials in URLs are never echoed,
# and the source files written here are removed again on exit, so they are
# not baked into the image either.
# Plain POSIX sh (dash, bash, busybox ash): templates run it with `sh`.
set -eu

repository=${repository:-}
package_type=${package_type:-}
packages=${packages:-}
upgrade=${upgrade:-}
disable_services=${disable_services:-}
apt_retries=${apt_retries:-}
boot_wait=${boot_wait:-300}
etc_dir=${etc_dir:-/etc}

while [ $# -gt 0 ]; do
	case "$1" in
	--repository | --package_type | --packages | --upgrade | --disable_services | --apt_retries | --boot_wait)
		[ $# -ge 2 ] || {
			echo "install_packages: $1 needs a value" >&2
			exit 2
		}
		# The name is one of the fixed words above, so eval is safe.
		eval "${1#--}=\$2"
		shift 2
		;;
	repository=* | package_type=* | packages=* | upgrade=* | disable_services=* | apt_retries=* | boot_wait=*)
		eval "${1%%=*}=\${1#*=}"
		shift
		;;
	*)
		echo "install_packages: unknown argument '$1'" >&2
		exit 2
		;;
	esac
done

# No globbing anywhere: "[trusted=yes]" and "name=1.0*" are not patterns.
set -f

# scrub prints its argument with user:password@ removed from URLs.
scrub() { printf '%s\n' "$1" | sed 's#\(://\)[^/@[:space:]]*@#\1#g'; }

# unquote strips one pair of surrounding double (or single) quotes, as
# Rosco's script does for values a template quoted.
unquote() {
	case "$1" in
	\"*\" | \'*\') printf '%s' "$1" | sed 's/^.//; s/.$//' ;;
	*) printf '%s' "$1" ;;
	esac
}

repository=$(unquote "$repository")
packages=$(unquote "$packages" | tr ',' ' ')

echo "repository=$(scrub "$repository")"
echo "package_type=$package_type"
echo "packages=$packages"
echo "upgrade=$upgrade"

SUDO=
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
	SUDO="sudo -E"
fi

# sources prints the entries of $repository (split on ';'), trimmed, one a
# line, skipping empty ones.
sources() {
	printf '%s\n' "$repository" | tr ';' '\n' | sed 's/^[[:space:]]*//; s/[[:space:]]*$//' | sed '/^$/d'
}

# wait_for_boot waits (up to boot_wait seconds) for cloud-init to finish on
# a freshly booted instance, so apt/yum do not race its package runs. It
# does nothing where cloud-init is not running: containers, chroots.
wait_for_boot() {
	[ -d /run/cloud-init ] || return 0
	[ "$disable_services" = "true" ] && return 0
	n=0
	while [ ! -e /var/lib/cloud/instance/boot-finished ] && [ "$n" -lt "$boot_wait" ]; do
		[ "$n" -eq 0 ] && echo "waiting for cloud-init to finish booting"
		sleep 1
		n=$((n + 1))
	done
	return 0
}

# cleanup removes what this script added to the image's configuration,
# whether the install succeeded or not.
policy_rc_d=
cleanup() {
	if [ -n "$policy_rc_d" ]; then
		echo "removing /usr/sbin/policy-rc.d"
		$SUDO rm -f /usr/sbin/policy-rc.d
	fi
	set +f
	$SUDO rm -f "$etc_dir/apt/sources.list.d/bakehouse.list" "$etc_dir"/yum.repos.d/bakehouse-*.repo
}

provision_deb() {
	export DEBIAN_FRONTEND=noninteractive
	# Options older apt ignores instead of refusing: trusty's apt has no
	# --allow-downgrades and no DPkg::Lock::Timeout.
	set -- -y -o Dpkg::Options::=--force-confold -o APT::Get::allow-downgrades=true -o DPkg::Lock::Timeout=300
	if [ -n "$apt_retries" ]; then
		set -- "$@" -o "Acquire::Retries=$apt_retries"
	fi
	# An image's own policy-rc.d (Docker's Debian images ship one) is left
	# as it is.
	if [ "$disable_services" = "true" ] && [ ! -e /usr/sbin/policy-rc.d ]; then
		echo "creating /usr/sbin/policy-rc.d to prevent services from being started"
		policy_rc_d=1
		printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
		$SUDO chmod a+x /usr/sbin/policy-rc.d
	fi
	if [ -n "$(sources)" ]; then
		$SUDO mkdir -p "$etc_dir/apt/sources.list.d"
		sources | sed '/^deb\(-src\)\{0,1\}[[:space:]]/!s/^/deb /' | $SUDO tee "$etc_dir/apt/sources.list.d/bakehouse.list" >/dev/null
		echo "wrote $(sources | wc -l | tr -d ' ') source(s) to $etc_dir/apt/sources.list.d/bakehouse.list"
	fi
	$SUDO apt-get "$@" update
	if [ "$upgrade" = "true" ]; then
		$SUDO apt-get "$@" upgrade
	fi
	for p in $packages; do
		$SUDO apt-get "$@" install "$p"
	done
}

provision_rpm() {
	yum=yum
	if command -v dnf >/dev/null 2>&1; then
		yum=dnf
	fi
	n=0
	while IFS= read -r entry; do
		[ -n "$entry" ] || continue
		n=$((n + 1))
		$SUDO mkdir -p "$etc_dir/yum.repos.d"
		printf '[bakehouse-%d]\nname=bakehouse-%d\nbaseurl=%s\ngpgcheck=0\nenabled=1\n' "$n" "$n" "$entry" |
			$SUDO tee "$etc_dir/yum.repos.d/bakehouse-$n.repo" >/dev/null
	done <<EOF
$(sources)
EOF
	[ "$n" -eq 0 ] || echo "wrote $n repository file(s) to $etc_dir/yum.repos.d"
	if [ "$upgrade" = "true" ]; then
		$SUDO "$yum" -y update
	fi
	for p in $packages; do
		$SUDO "$yum" -y install "$p"
	done
}

case "$package_type" in
deb | rpm) ;;
*)
	echo "install_packages: package_type must be deb or rpm, not '$package_type'" >&2
	exit 1
	;;
esac

trap cleanup EXIT
wait_for_boot
provision_"$package_type"
