"""Generated code for protos/latentdrag/v1 (engine_pb2, engine_pb2_grpc)."""
