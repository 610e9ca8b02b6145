"""HTTP API for programs: versioned under /api/v1, OpenAPI 3.1, RFC 9457 errors."""
