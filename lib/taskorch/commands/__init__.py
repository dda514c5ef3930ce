"""One module per doit verb; each exposes `creator(project)` returning doit task creators."""
