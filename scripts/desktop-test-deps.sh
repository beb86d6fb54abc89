#!/usr/bin/env bash
# Install what the real-desktop test runs against: an X server, a D-Bus session, a tray and a
# notification daemon (Debian packages). Instant when they are already there.
set -euo pipefail

# trayer is an XEmbed system tray (Debian 12 no longer ships stalonetray); dunst records what it
# showed, which `dunstctl history` prints.
#
# dunst's package makes it D-Bus activatable as org.freedesktop.Notifications, so any session
# bus would start it on demand and the notification tests' own servers would never be alone.
# The desktop test starts dunst itself; the service file is moved aside, for good.
DUNST_SERVICE=/usr/share/dbus-1/services/org.knopwob.dunst.service

missing=()
command -v Xvfb >/dev/null || missing+=(xvfb)
command -v dbus-launch >/dev/null || missing+=(dbus-x11)
command -v xwininfo >/dev/null && command -v xprop >/dev/null || missing+=(x11-utils)
command -v trayer >/dev/null || missing+=(trayer)
command -v dunst >/dev/null && command -v dunstctl >/dev/null || missing+=(dunst)
# Libraries Qt's X11 platform plugin (xcb) loads; the wheel does not bundle them.
for lib in libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 \
    libxcb-render-util0 libxcb-shape0 libxcb-xkb1 libxkbcommon-x11-0 libx11-xcb1 libegl1; do
    dpkg-query -W -f='${Status}' "$lib" 2>/dev/null | grep -q "ok installed" || missing+=("$lib")
done

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

hide_dunst_service() {
    if [ -e "$DUNST_SERVICE" ]; then
        $sudo dpkg-divert --quiet --local --rename --divert "$DUNST_SERVICE.disabled" \
            --add "$DUNST_SERVICE"
    fi
}

if [ "${#missing[@]}" -eq 0 ]; then
    hide_dunst_service
    exit 0
fi

# Never let the packages start system services on this machine.
[ -e /usr/sbin/policy-rc.d ] || printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
$sudo chmod +x /usr/sbin/policy-rc.d
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
hide_dunst_service
