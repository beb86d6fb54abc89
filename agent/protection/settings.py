"""ProtectionSettings: the frozen protection policy built from the agent's Config."""

from __future__ import annotations

from dataclasses import dataclass

from upsight.agent.config import Config
from upsight.agent.monitor import MonitorSettings
from upsight.agent.protection.actions import ActionKind


def duration_text(seconds: float) -> str:
    """A short human duration: ``45 s``, ``4 min 10 s``, ``1 h 5 min``."""
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        minutes, rest = divmod(whole, 60)
        return f"{minutes} min" if rest == 0 else f"{minutes} min {rest} s"
    hours, rest = divmod(whole, 3600)
    minutes = rest // 60
    return f"{hours} h" if minutes == 0 else f"{hours} h {minutes} min"


@dataclass(frozen=True)
class ProtectionSettings:
    """When protection acts and what it does; see the ``protection.*`` config keys.

    Thresholds of 0 are off. ``devices`` names the UPSes that power this
    computer; empty means every monitored UPS that is not simulated.
    ``stale_after_s`` is the monitor's stale window: older data is never judged.
    ``problems`` lists settings that could not be honoured as written.
    """

    action: ActionKind = ActionKind.SHUTDOWN
    on_battery_s: float = 0.0
    runtime_below_s: float = 300.0
    charge_below_pct: float = 20.0
    on_low_battery: bool = True
    delay_s: float = 60.0
    allow_postpone: bool = True
    postpone_s: float = 300.0
    max_postpones: int = 1
    command: tuple[str, ...] = ()
    command_timeout_s: float = 120.0
    ups_power_off: bool = False
    ups_power_off_delay_s: float = 120.0
    devices: tuple[str, ...] = ()
    stale_after_s: float = 3.0
    problems: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, config: Config) -> ProtectionSettings:
        """The settings in ``config``, with combinations that cannot work made safe."""
        problems: list[str] = []
        action = ActionKind(config.protection_action)
        if action is ActionKind.COMMAND and not config.protection_command:
            # Running nothing would look like protection while giving none; say so instead.
            problems.append(
                'protection.action is "command" but protection.command is empty; '
                "only notifying until a command is set"
            )
            action = ActionKind.NOTIFY
        on_low_battery = config.protection_on_low_battery
        no_threshold = (
            config.protection_on_battery_s == 0
            and config.protection_runtime_below_s == 0
            and config.protection_charge_below_pct == 0
        )
        if not on_low_battery and no_threshold:
            problems.append(
                "protection.on_low_battery is off and no threshold is set; the UPS's "
                "low-battery flag is still honoured, as it is the only warning left"
            )
            on_low_battery = True
        return cls(
            action=action,
            on_battery_s=config.protection_on_battery_s,
            runtime_below_s=config.protection_runtime_below_s,
            charge_below_pct=config.protection_charge_below_pct,
            on_low_battery=on_low_battery,
            delay_s=config.protection_delay_s,
            allow_postpone=config.protection_allow_postpone,
            postpone_s=config.protection_postpone_s,
            max_postpones=config.protection_max_postpones,
            command=config.protection_command,
            command_timeout_s=config.protection_command_timeout_s,
            ups_power_off=config.protection_ups_power_off,
            ups_power_off_delay_s=config.protection_ups_power_off_delay_s,
            devices=config.protection_devices,
            stale_after_s=MonitorSettings(interval_s=config.poll_interval_s).stale_after_s,
            problems=tuple(problems),
        )

    def rules(self) -> list[str]:
        """The policy in plain sentences, for status displays and the simulator."""
        on_battery = "On battery, act"
        if self.delay_s:
            on_battery += f" {duration_text(self.delay_s)} after a warning"
        conditions: list[str] = []
        if self.runtime_below_s:
            conditions.append(f"runtime below {duration_text(self.runtime_below_s)}")
        if self.charge_below_pct:
            fallback = ", when the UPS reports no runtime" if self.runtime_below_s else ""
            conditions.append(f"charge below {self.charge_below_pct:g} %{fallback}")
        if self.on_battery_s:
            conditions.append(f"{duration_text(self.on_battery_s)} on battery")
        lines = [f"{on_battery} when: {'; or '.join(conditions)}."] if conditions else []
        if self.on_low_battery:
            lines.append("Act at once when the UPS reports a low battery on battery (OB LB).")
        else:
            lines.append(
                "The UPS's low-battery flag is used only when it reports neither runtime "
                "nor charge."
            )
        lines.append("Act at once on a forced shutdown (FSD).")
        if self.allow_postpone and self.max_postpones:
            times = "once" if self.max_postpones == 1 else f"{self.max_postpones} times"
            lines.append(f"You may postpone by up to {duration_text(self.postpone_s)}, {times}.")
        elif not self.allow_postpone:
            lines.append("Postponing and cancelling are not allowed by settings.")
        if self.ups_power_off:
            lines.append(
                f"After acting, the UPS turns its output off in "
                f"{duration_text(self.ups_power_off_delay_s)} and back on when mains returns."
            )
        lines.extend(self.problems)
        return lines
