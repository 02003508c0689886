"""gRPC contracts; the modules generated from them sit beside each .proto (scripts/gen-protos)."""
