"""Service mode: the agent as one system service per machine (systemd, launchd, Windows SCM)."""
