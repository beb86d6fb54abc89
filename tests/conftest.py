"""Suite-wide safety: no test, and no process a test starts, may run a real power action."""

from __future__ import annotations

import os

# Set at import, before any test module builds an agent, and inherited by every
# `upsight run` subprocess the tests start.
os.environ["UPSIGHT_POWER_ACTIONS"] = "off"
