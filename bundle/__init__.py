"""The monitoring bundle users install: dashboards, alert rules and manifests, built and checked."""
