"""The language the app speaks: Qt translators for the user's locale, or for the one asked for."""

from __future__ import annotations

import os
from collections.abc import Iterator
from importlib import resources
from typing import Final

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator

LANG_ENV: Final = "UPSIGHT_LANG"
CATALOGUE: Final = "upsight"
SOURCE_LANGUAGE: Final = "en"
# Installed translators carry this name so a second install replaces them instead of stacking.
_MARK: Final = "upsight-translator"


def requested_locale(lang: str | None = None) -> QLocale:
    """The locale to speak: ``lang`` (``--lang``), else ``$UPSIGHT_LANG``, else the system's."""
    chosen = lang or os.environ.get(LANG_ENV)
    return QLocale(chosen) if chosen else QLocale.system()


def catalogue_names(locale: QLocale) -> Iterator[str]:
    """Catalogue suffixes to try for ``locale``, most specific first, English last.

    Every UI language of the locale as it is (``zh_Hans_CN``, ``zh_CN``), then each cut
    shorter (``zh_Hans``, ``zh``); English, the source language, only carries plural forms.
    """
    tags = [tag.replace("-", "_").split("_") for tag in locale.uiLanguages()]
    shorter = [tag[:end] for tag in tags for end in range(len(tag) - 1, 0, -1)]
    seen: set[str] = set()
    for parts in [*tags, *shorter]:
        name = "_".join(parts)
        if name not in seen:
            seen.add(name)
            yield name
    if SOURCE_LANGUAGE not in seen:
        yield SOURCE_LANGUAGE


def _load_catalogue(translator: QTranslator, locale: QLocale) -> str | None:
    folder = resources.files("upsight.resources") / "translations"
    for name in catalogue_names(locale):
        candidate = folder / f"{CATALOGUE}_{name}.qm"
        if not candidate.is_file():
            continue
        with resources.as_file(candidate) as path:
            if translator.load(str(path)):
                return name
    return None


def install(app: QCoreApplication, locale: QLocale) -> str | None:
    """Install the app's and Qt's own translations for ``locale``, replacing earlier ones.

    Also makes ``locale`` the default, so numbers and dates follow the language shown.

    Returns:
        The catalogue loaded (e.g. ``"zh_CN"``, ``"en"``), or None when none was found.
    """
    remove(app)
    QLocale.setDefault(locale)
    ours = QTranslator(app)
    ours.setObjectName(_MARK)
    loaded = _load_catalogue(ours, locale)
    if loaded is None:
        ours.deleteLater()
        return None
    app.installTranslator(ours)
    if loaded != SOURCE_LANGUAGE:
        # Qt's own dialog buttons (OK, Cancel, Yes, No) in the same language.
        qt = QTranslator(app)
        qt.setObjectName(_MARK)
        folder = QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
        if qt.load(locale, "qtbase", "_", folder):
            app.installTranslator(qt)
        else:
            qt.deleteLater()
    return loaded


def remove(app: QCoreApplication) -> None:
    """Uninstall the translators ``install`` installed; the app speaks its source English."""
    for old in app.findChildren(QTranslator, _MARK):
        app.removeTranslator(old)
        old.deleteLater()
