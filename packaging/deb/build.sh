#!/usr/bin/env bash
# Build the Upsight Debian package into build/deb/ and print its path.
#
#   packaging/deb/build.sh [--no-gui]
#
# The application lives in its own virtual environment under /opt/upsight/venv,
# built against the system's /usr/bin/python3 (that is what runs it after
# installation). A venv records its own path in scripts and pyvenv.cfg, so it is
# built in a staging tree and those paths are rewritten to /opt/upsight/venv; the
# bytecode is compiled last, with the installed paths. --no-gui leaves out PySide6,
# pyqtgraph and numpy (the desktop app) for headless machines: the agent and the
# command line never import them.
#
# Environment: UPSIGHT_DEB_COMPRESSION (default xz) and UPSIGHT_DEB_LEVEL (default 1).
# For the 350 MB payload with the GUI, xz -1 takes ~22 s for 84 MiB where xz -6 takes
# ~105 s for 71 MiB; zstd -3 takes ~3 s for 99 MiB but needs dpkg 1.21.18 or later.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=packaging/deb

gui=1
for arg in "$@"; do
    case "$arg" in
        --no-gui) gui=0 ;;
        *) echo "usage: $0 [--no-gui]" >&2; exit 2 ;;
    esac
done

target_python=/usr/bin/python3
if [ ! -x "$target_python" ]; then
    echo "build.sh: $target_python is missing (apt-get install python3)" >&2
    exit 1
fi
"$target_python" -c 'import venv, ensurepip' 2>/dev/null \
    || { echo "build.sh: the venv module is missing (apt-get install python3-venv)" >&2; exit 1; }
# pip runs from the development environment and installs into the staged venv
# (pip --python), so the package carries no pip of its own.
build_python=.venv/bin/python
[ -x "$build_python" ] || build_python=python3

prefix=/opt/upsight
venv_path=$prefix/venv
out=build/deb
stage=$out/stage
rm -rf "$stage"
mkdir -p "$stage"
stage=$(cd "$stage" && pwd)
venv=$stage$venv_path

read -r version py_version < <("$target_python" - <<'PY'
import sys, tomllib
with open("pyproject.toml", "rb") as f:
    print(tomllib.load(f)["project"]["version"], f"{sys.version_info[0]}.{sys.version_info[1]}")
PY
)
arch=$(dpkg --print-architecture)
next_minor="${py_version%.*}.$(( ${py_version#*.} + 1 ))"

echo "building upsight $version for $arch (python $py_version, gui: $gui)" >&2
"$target_python" -m venv --without-pip "$venv"

# The dependencies from pyproject.toml; without the GUI, less those only gui/ imports.
requirements=$out/requirements.txt
"$target_python" - "$gui" > "$requirements" <<'PY'
import re, sys, tomllib
with open("pyproject.toml", "rb") as f:
    deps = tomllib.load(f)["project"]["dependencies"]
gui_only = {"pyside6-essentials", "pyqtgraph", "numpy"}
keep = sys.argv[1] == "1"
names = [re.split("[^A-Za-z0-9_.-]", d)[0].lower() for d in deps]
print("\n".join(d for d, name in zip(deps, names) if keep or name not in gui_only))
PY
log=$out/pip.log
pip() {
    "$build_python" -m pip --python "$venv/bin/python" --disable-pip-version-check \
        install --no-compile --no-warn-script-location "$@" >>"$log" 2>&1 \
        || { tail -20 "$log" >&2; echo "build.sh: pip install $* failed; see $log" >&2; exit 1; }
}
: >"$log"
pip -r "$requirements"
# From a fresh copy: setuptools reuses ./build/lib and would ship stale files from it.
src=$out/src
rm -rf "$src"
mkdir -p "$src"
cp -r pyproject.toml README.md agent drivers gui resources "$src/"
find "$src" -name __pycache__ -prune -exec rm -rf {} +
pip --no-deps "$src"

# Scripts and pyvenv.cfg name the staging path; give them the installed one.
grep -rlI --null -F "$stage" "$venv" | xargs -0 -r sed -i "s#$stage##g"
if leftover=$(grep -rlI -F "$stage" "$venv"); then
    echo "build.sh: staging paths left in: $leftover" >&2
    exit 1
fi
# unchecked-hash: the .pyc files stay valid whatever mtimes the files get. PySide6 ships
# Jinja templates named *.tmpl.py, which are not Python.
"$target_python" -m compileall -q -j 0 --invalidation-mode unchecked-hash \
    -x '[.]tmpl[.]py$' -s "$stage" -p / "$venv/lib" >/dev/null

render() { "$venv/bin/python" -m upsight.agent.cli service render "$@"; }
install -d "$stage/usr/bin" "$stage/lib/systemd/system" "$stage/lib/udev/rules.d" \
    "$stage/etc/polkit-1/rules.d" "$stage/etc/upsight/policies/managed" \
    "$stage/etc/upsight/policies/recommended" "$stage/usr/share/doc/upsight"
ln -s "$venv_path/bin/upsight" "$stage/usr/bin/upsight"
render systemd --exec "$venv_path/bin/upsight" > "$stage/lib/systemd/system/upsight.service"
render polkit > "$stage/etc/polkit-1/rules.d/50-upsight.rules"
# 60-, as upsight service install names it: before NUT's 62-nut-usbups.rules, so that where
# NUT is installed it keeps the UPS (Upsight then reads it through nut://).
install -m 0644 resources/udev/99-upsight-hid.rules "$stage/lib/udev/rules.d/60-upsight-hid.rules"
install -m 0644 docs/deploy.md README.md "$stage/usr/share/doc/upsight/"

install -d "$stage/DEBIAN"
for script in postinst prerm postrm; do
    install -m 0755 "$here/$script" "$stage/DEBIAN/$script"
done
# Admins may edit these; dpkg keeps their edits on upgrade.
(cd "$stage" && find etc -type f | sed 's#^#/#' | sort) > "$stage/DEBIAN/conffiles"

gui_libs=""
if [ "$gui" = 1 ]; then
    # Qt's xcb platform plugin loads these at run time; only the desktop app needs them.
    gui_libs="libgl1, libegl1, libxkbcommon0, libxkbcommon-x11-0, libfontconfig1, "
    gui_libs+="libdbus-1-3, libxcb-cursor0, "
fi
installed_kb=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat > "$stage/DEBIAN/control" <<CONTROL
Package: upsight
Version: $version
Architecture: $arch
Maintainer: Upsight packaging <packaging@upsight.example>
Installed-Size: $installed_kb
Depends: python3 (>= $py_version), python3 (<< $next_minor), libc6 (>= 2.28), libusb-1.0-0, adduser
Recommends: ${gui_libs}polkitd
Section: admin
Priority: optional
Description: UPS monitor with local history and privacy controls
 Upsight reads USB, serial and NUT UPSes, keeps a local history of readings,
 events and energy use, and protects the computer when the power fails. It runs
 as the system service "upsight" (user upsight); admins configure it with JSON
 policy files in /etc/upsight/policies/managed and /etc/upsight/policies/recommended.
 .
 Everything stays on the machine unless a cloud purpose is allowed; see
 /usr/share/doc/upsight/deploy.md.
CONTROL

deb=$out/upsight_${version}_${arch}.deb
compression=${UPSIGHT_DEB_COMPRESSION:-xz}
level=${UPSIGHT_DEB_LEVEL:-1}
dpkg-deb --root-owner-group -Z"$compression" -z"$level" --build "$stage" "$deb" >/dev/null
echo "$deb"
