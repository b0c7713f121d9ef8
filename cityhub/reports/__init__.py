"""Human-readable reports of the hub: the provider scorecard HTML (Jinja2 templates, inline SVG charts)."""
