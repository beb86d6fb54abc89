"""The main window's pages; each takes the bridge and presents one aspect of the agent."""
