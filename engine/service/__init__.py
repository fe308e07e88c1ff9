"""The engine service: gRPC API, sessions with revision history, one compute worker per device."""
