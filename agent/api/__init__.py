"""Local API: the authenticated channel between a running agent and its GUIs and CLIs."""
