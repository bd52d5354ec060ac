"""HTTP edge: app factory, routers, dependencies, problem+json errors."""
