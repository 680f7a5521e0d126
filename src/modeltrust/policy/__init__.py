"""Policy as code: what an organisation accepts, validated, and how findings become a verdict."""
