"""The route guide server: ``python examples/route_guide/server.py [--port 50051]``.

Serves the features of ``route_guide_db.json`` through the four kinds of call.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import time
from collections.abc import AsyncIterator
from pathlib import Path

import route_guide_grpcx
from route_guide_pb2 import Feature, Point, Rectangle, RouteNote, RouteSummary

import grpcx.aio

DB = Path(__file__).with_name("route_guide_db.json")


def load_features() -> list[Feature]:
    return [
        Feature(
            name=item["name"],
            location=Point(latitude=item["latitude"], longitude=item["longitude"]),
        )
        for item in json.loads(DB.read_text())
    ]


def distance(start: Point, end: Point) -> float:
    """Metres between two points, by the haversine formula."""
    lat1, lat2 = math.radians(start.latitude / 1e7), math.radians(end.latitude / 1e7)
    dlat = lat2 - lat1
    dlon = math.radians((end.longitude - start.longitude) / 1e7)
    a = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 6_371_000 * 2 * math.atan2(math.sqrt(a), math.sqrt(1 - a))


class RouteGuide(route_guide_grpcx.RouteGuideServicer):
    def __init__(self, features: list[Feature]) -> None:
        self.features = features
        self.notes: dict[tuple[int, int], list[RouteNote]] = {}

    def feature_at(self, point: Point) -> Feature | None:
        return next((f for f in self.features if f.location == point), None)

    async def get_feature(self, request: Point, context: grpcx.aio.ServicerContext) -> Feature:
        return self.feature_at(request) or Feature(location=request)

    async def list_features(
        self, request: Rectangle, context: grpcx.aio.ServicerContext
    ) -> AsyncIterator[Feature]:
        lat = sorted((request.lo.latitude, request.hi.latitude))
        lon = sorted((request.lo.longitude, request.hi.longitude))
        for feature in self.features:
            where = feature.location
            if (
                feature.name
                and lat[0] <= where.latitude <= lat[1]
                and lon[0] <= where.longitude <= lon[1]
            ):
                yield feature

    async def record_route(
        self, request_iterator: AsyncIterator[Point], context: grpcx.aio.ServicerContext
    ) -> RouteSummary:
        start = time.monotonic()
        points = features = 0
        metres = 0.0
        previous: Point | None = None
        async for point in request_iterator:
            points += 1
            feature = self.feature_at(point)
            features += bool(feature and feature.name)
            if previous is not None:
                metres += distance(previous, point)
            previous = point
        return RouteSummary(
            point_count=points,
            feature_count=features,
            distance=round(metres),
            elapsed_time=round(time.monotonic() - start),
        )

    async def route_chat(
        self, request_iterator: AsyncIterator[RouteNote], context: grpcx.aio.ServicerContext
    ) -> AsyncIterator[RouteNote]:
        async for note in request_iterator:
            key = (note.location.latitude, note.location.longitude)
            for earlier in self.notes.get(key, []):
                yield earlier
            self.notes.setdefault(key, []).append(note)


async def serve(port: int) -> None:
    server = grpcx.aio.Server()
    server.add_service(RouteGuide(load_features()))
    bound = await server.add_port(f"127.0.0.1:{port}")
    await server.start()  # (serve() would start it too; started first, it is ready to print)
    print(f"listening on 127.0.0.1:{bound}", flush=True)
    # Until Ctrl-C or SIGTERM; then calls in flight get 5 s to finish, new ones are refused.
    await server.serve(grace=5.0)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=50051, help="0 picks a free port")
    asyncio.run(serve(parser.parse_args().port))
