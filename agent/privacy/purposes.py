"""The purposes Upsight may upload data for: the units of consent, queueing, deletion and policy."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final


class Purpose(enum.StrEnum):
    """Why data would leave the machine; the value is the id used in files, policy and envelopes."""

    LOCAL = "local"
    CLOUD_ALERTS = "cloud_alerts"
    DEVICE_REGISTRATION = "device_registration"
    ENERGY_HISTORY = "energy_history"
    DIAGNOSTICS = "diagnostics"
    USAGE_ANALYTICS = "usage_analytics"
    LOCATION = "location"
    ACCOUNT = "account"
    CONTROL = "control"


class PurposeKind(enum.StrEnum):
    """Whether a purpose is a consent choice at all."""

    LOCAL = "local"
    """Runs the product on this computer; nothing is uploaded, so there is nothing to choose."""
    UPLOAD = "upload"
    """A consent unit: starts undetermined, which means off."""
    CONTROL = "control"
    """Consent receipts and deletion requests; always allowed and kept minimal."""


@dataclass(frozen=True)
class Subtoggle:
    """A user-only switch inside a purpose that adds data, such as sending a serial in clear.

    Attributes:
        id: Key in ``consent.json`` and in the inventory's ``clear_text_subtoggle`` /
            ``requires_subtoggle``.
        label: What the switch is called on screen.
        explanation: One plain sentence on what turning it on sends.
    """

    id: str
    label: str
    explanation: str


@dataclass(frozen=True)
class PurposeInfo:
    """Everything the consent screens and the policy loader need to know about one purpose.

    Attributes:
        id: The purpose.
        name: The user-facing name of the row.
        why: Why Upsight needs it, in plain language.
        kind: Local, upload (a consent choice) or control.
        org_grantable: Whether an organisation's mandatory or recommended policy may switch
            it on. Only upload purposes made of organisation-device telemetry qualify.
        needs_account: Whether it needs a signed-in account or an organisation enrolment
            token; the GUI greys the row out without one and says why.
        prompt_version: Bumped whenever the row's wording changes; a choice recorded under
            another version no longer counts and the user is asked again.
        subtoggles: Switches inside the purpose that only the user may turn on.
        caveat: A warning shown beside the row, or None.
    """

    id: Purpose
    name: str
    why: str
    kind: PurposeKind
    org_grantable: bool
    needs_account: bool
    prompt_version: int
    subtoggles: tuple[Subtoggle, ...] = ()
    caveat: str | None = None

    def subtoggle(self, subtoggle_id: str) -> Subtoggle:
        """The named switch of this purpose.

        Raises:
            KeyError: The purpose has no such switch.
        """
        for item in self.subtoggles:
            if item.id == subtoggle_id:
                return item
        raise KeyError(f"{self.id} has no sub-toggle {subtoggle_id!r}")


_TABLE: Final[tuple[PurposeInfo, ...]] = (
    PurposeInfo(
        Purpose.LOCAL,
        "Local monitoring",
        "Watches the UPS, shows alerts and shuts this computer down safely. "
        "It works without any of the choices below and sends nothing.",
        PurposeKind.LOCAL,
        org_grantable=False,
        needs_account=False,
        prompt_version=1,
    ),
    PurposeInfo(
        Purpose.CLOUD_ALERTS,
        "Cloud alerts & remote status",
        "Sends the UPS state to the Upsight cloud so it can push or email you an alert "
        "and show the UPS on a remote dashboard when the power changes.",
        PurposeKind.UPLOAD,
        org_grantable=True,
        needs_account=True,
        prompt_version=1,
        subtoggles=(
            Subtoggle(
                "use_hostname_as_label",
                "Use the computer name as the device label",
                "Sends this computer's name so alerts say which machine they are about.",
            ),
        ),
    ),
    PurposeInfo(
        Purpose.DEVICE_REGISTRATION,
        "Link this UPS to your account / warranty",
        "Ties the UPS model and serial number to your account so you can receive warranty "
        "and recall notices for it.",
        PurposeKind.UPLOAD,
        org_grantable=True,
        needs_account=True,
        prompt_version=1,
        subtoggles=(
            Subtoggle(
                "send_serial_clear",
                "Send serial for warranty",
                "Sends the UPS serial number as printed on the unit instead of a code "
                "derived from it, so the manufacturer can match it to a warranty.",
            ),
        ),
        caveat="Without the serial switch, the serial number is sent only as a code that "
        "cannot be turned back into the number.",
    ),
    PurposeInfo(
        Purpose.ENERGY_HISTORY,
        "Electricity history in the cloud",
        "Keeps long-term charts of power and energy use in the cloud and looks for unusual "
        "patterns, such as a battery wearing out.",
        PurposeKind.UPLOAD,
        org_grantable=True,
        needs_account=True,
        prompt_version=1,
        caveat="At home, an electricity curve can show when people are in, asleep or away.",
    ),
    PurposeInfo(
        Purpose.DIAGNOSTICS,
        "Crash & error reports",
        "Sends a report when Upsight crashes or a device stops answering, so we can fix the bug.",
        PurposeKind.UPLOAD,
        org_grantable=False,
        needs_account=False,
        prompt_version=1,
        caveat="Reports are cleaned of paths and names, but may still hint at how you use "
        "this computer.",
    ),
    PurposeInfo(
        Purpose.USAGE_ANALYTICS,
        "Usage statistics",
        "Counts how often Upsight is opened and which features are used, so we know what "
        "to improve.",
        PurposeKind.UPLOAD,
        org_grantable=False,
        needs_account=False,
        prompt_version=1,
    ),
    PurposeInfo(
        Purpose.LOCATION,
        "Location for outage correlation",
        "Uses your region, Wi-Fi network or position to tell whether an outage is local "
        "or affects the whole area.",
        PurposeKind.UPLOAD,
        org_grantable=False,
        needs_account=False,
        prompt_version=1,
        subtoggles=(
            Subtoggle(
                "send_ssid_clear",
                "Send the Wi-Fi network name",
                "Sends the name of the Wi-Fi network you are on instead of a code derived from it.",
            ),
        ),
        caveat="Location can identify where you live or work.",
    ),
    PurposeInfo(
        Purpose.ACCOUNT,
        "Sign-in & contact details",
        "Creates or uses your Upsight cloud account with your name, email address and phone "
        "number.",
        PurposeKind.UPLOAD,
        org_grantable=False,
        needs_account=False,
        prompt_version=1,
        caveat="Your details are sent only when you sign in yourself.",
    ),
    PurposeInfo(
        Purpose.CONTROL,
        "Privacy requests",
        "Sends receipts of your privacy choices and your requests to delete data, so the "
        "cloud can honour them.",
        PurposeKind.CONTROL,
        org_grantable=False,
        needs_account=False,
        prompt_version=1,
    ),
)

PURPOSES: Final[Mapping[Purpose, PurposeInfo]] = MappingProxyType({p.id: p for p in _TABLE})
"""Every purpose's description, in the order the consent screens list them."""

UPLOAD_PURPOSES: Final[tuple[Purpose, ...]] = tuple(
    p.id for p in _TABLE if p.kind is PurposeKind.UPLOAD
)
"""The purposes a user (or, for some, an organisation) decides on; each starts off."""

ORG_GRANTABLE: Final[frozenset[Purpose]] = frozenset(p.id for p in _TABLE if p.org_grantable)
"""Upload purposes an organisation's policy may switch on; policy may only block the rest."""

USER_ONLY: Final[frozenset[Purpose]] = frozenset(UPLOAD_PURPOSES) - ORG_GRANTABLE
"""Upload purposes only the user may switch on; policy may block them or leave them alone."""


def info(purpose: Purpose) -> PurposeInfo:
    """The description of ``purpose``."""
    return PURPOSES[purpose]


def prompt_versions() -> dict[Purpose, int]:
    """The current prompt version of every upload purpose, as the consent store compares them."""
    return {p: PURPOSES[p].prompt_version for p in UPLOAD_PURPOSES}
