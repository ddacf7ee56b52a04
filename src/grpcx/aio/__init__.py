"""grpcx on asyncio."""
