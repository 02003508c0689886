"""``loyalty.wallet.v1``: wallet_pb2 and wallet_pb2_grpc are generated from wallet.proto."""
