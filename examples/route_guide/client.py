"""The route guide client: ``python examples/route_guide/client.py [--port 50051]``.

Makes one call of each kind and prints what comes back.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator

import route_guide_grpcx
from route_guide_pb2 import Point, Rectangle, RouteNote

import grpcx.aio


async def notes() -> AsyncIterator[RouteNote]:
    for message, (lat, lon) in [
        ("first", (0, 1)),
        ("second", (0, 2)),
        ("third", (0, 1)),
        ("fourth", (0, 2)),
    ]:
        yield RouteNote(location=Point(latitude=lat, longitude=lon), message=message)


async def main(port: int) -> None:
    async with grpcx.aio.Channel(f"127.0.0.1:{port}") as channel:
        guide = route_guide_grpcx.RouteGuideStub(channel)

        feature = await guide.get_feature(Point(latitude=515100000, longitude=-1100000))
        print(f"GetFeature: {feature.name!r}")
        missing = await guide.get_feature(Point(latitude=0, longitude=0))
        print(f"GetFeature: {missing.name!r} (nothing there)")

        area = Rectangle(
            lo=Point(latitude=514000000, longitude=-1150000),
            hi=Point(latitude=515250000, longitude=-900000),
        )
        async for found in guide.list_features(area):
            print(f"ListFeatures: {found.name}")

        route = [
            Point(latitude=515000000 + i * 100000, longitude=-1000000 - i * 100000)
            for i in range(3)
        ]
        summary = await guide.record_route(route)
        print(
            f"RecordRoute: {summary.point_count} points, {summary.feature_count} features, "
            f"{summary.distance} m"
        )

        async for note in guide.route_chat(notes()):
            where = note.location
            print(f"RouteChat: {note.message!r} was left at ({where.latitude}, {where.longitude})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=50051)
    asyncio.run(main(parser.parse_args().port))
