"""Places agents run. Each backend implements `runners.base.Runner`."""
