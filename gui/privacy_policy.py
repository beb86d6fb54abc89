"""Policy diagnostics: the organisation's policies in effect, their sources, and their errors."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Final

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from upsight.agent.privacy.admin_policy import EffectivePolicy, PolicyEntry, schema_location

SECRET_POLICIES: Final = frozenset({"EnrollmentToken"})
"""Policies whose value is a credential: shown as set, never printed."""


def _table(headers: Sequence[str], name: str) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(list(headers))
    table.setAccessibleName(name)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().hide()
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    return table


def _fill(table: QTableWidget, rows: Sequence[Sequence[str]]) -> None:
    table.setRowCount(len(rows))
    for row, cells in enumerate(rows):
        for column, text in enumerate(cells):
            table.setItem(row, column, QTableWidgetItem(text))


class PolicyView(QWidget):
    """Active policies, errors, and where Upsight looked (like a browser's policy page)."""

    def __init__(self, policy: Callable[[], EffectivePolicy], parent: QWidget | None = None):
        super().__init__(parent)
        self._policy = policy
        layout = QVBoxLayout(self)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setAccessibleName(self.tr("Organization policy summary"))
        layout.addWidget(self.summary)
        active_label = QLabel(self.tr("Active policies"))
        layout.addWidget(active_label)
        self.active = _table(
            [
                self.tr("Policy"),
                self.tr("Value"),
                self.tr("Source"),
                self.tr("Scope"),
                self.tr("Level"),
                self.tr("Status"),
            ],
            self.tr("Active policies"),
        )
        active_label.setBuddy(self.active)
        layout.addWidget(self.active, 1)
        errors_label = QLabel(self.tr("Errors"))
        layout.addWidget(errors_label)
        self.errors = _table(
            [self.tr("Source"), self.tr("Key"), self.tr("Problem")], self.tr("Policy errors")
        )
        errors_label.setBuddy(self.errors)
        layout.addWidget(self.errors, 1)
        self.documentation = QLabel()
        self.documentation.setWordWrap(True)
        self.documentation.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.documentation.setAccessibleName(self.tr("Where policies are read from"))
        layout.addWidget(self.documentation)

    def value_text(self, entry: PolicyEntry) -> str:
        """A policy's value as shown; credentials are hidden."""
        if entry.name in SECRET_POLICIES:
            return self.tr("(set; hidden)")
        return json.dumps(entry.value, ensure_ascii=False)

    @Slot()
    def refresh(self) -> None:
        """Read every policy source again."""
        policy = self._policy()
        if policy.active:
            self.summary.setText(
                self.tr(
                    "Managed by your organization: the policies below limit what you can change."
                )
            )
        else:
            self.summary.setText(self.tr("No organization policy applies to Upsight here."))
        _fill(
            self.active,
            [
                (
                    e.name,
                    self.value_text(e),
                    e.source,
                    str(e.scope),
                    str(e.level),
                    self.tr("Locked") if e.locked else self.tr("Default"),
                )
                for e in policy.entries
            ],
        )
        _fill(
            self.errors,
            [(p.source, p.key or self.tr("(whole source)"), p.problem) for p in policy.errors],
        )
        searched = "\n".join(policy.searched) or self.tr("(none)")
        self.documentation.setText(
            self.tr("Policy format: {schema}\nLocations read:\n{searched}").format(
                schema=schema_location(), searched=searched
            )
        )
