"""The desktop app: status window, history, privacy panel and tray icon."""
