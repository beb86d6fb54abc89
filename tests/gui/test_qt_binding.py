"""The installed Qt binding keeps Python's reference counts intact.

PySide6 6.12.0 released a reference to None or a bool on every call returning
one, and the interpreter aborted mid-test after a few thousand calls; this
names the cause instead of a crash if such a build is ever installed again.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject


def test_calls_returning_none_or_bool_keep_their_references() -> None:
    target = QObject()
    none_before = sys.getrefcount(None)
    true_before = sys.getrefcount(True)
    for _ in range(2000):
        target.setObjectName("probe")
        target.blockSignals(False)
    assert sys.getrefcount(None) - none_before > -100
    assert sys.getrefcount(True) - true_before > -100
