"""EagerStarter: handlers run their first step inline, and a Task only if they suspend."""

from __future__ import annotations

import asyncio
import sys
import weakref
from collections.abc import Coroutine
from typing import Any

import pytest

from grpcx.aio import _eager
from grpcx.aio._eager import EagerStarter


def run_in_callback(fn: Any) -> Any:
    """Run ``fn(loop)`` from a plain loop callback (as data_received is), not in a Task."""

    async def main() -> Any:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Any] = loop.create_future()

        def callback() -> None:
            try:
                done.set_result(fn(loop))
            except BaseException as exc:  # handed to the test
                done.set_exception(exc)

        loop.call_soon(callback)
        return await asyncio.wait_for(done, 5)

    return asyncio.run(main())


class CountedPlaceholder(_eager._PendingTask):
    """_PendingTask, counting how many were made (a test may not hold one: that would
    count as a handler keeping it)."""

    __slots__ = ()
    made = 0

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        CountedPlaceholder.made += 1


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> type[CountedPlaceholder]:
    monkeypatch.setattr(_eager, "_PendingTask", CountedPlaceholder)
    CountedPlaceholder.made = 0
    return CountedPlaceholder


def test_finished_in_first_step_needs_no_task_and_reuses_the_placeholder(
    counted: type[CountedPlaceholder],
) -> None:
    seen: list[object] = []

    async def handler(value: int) -> int:
        seen.append(type(asyncio.current_task()).__name__)
        return value * 2

    def body(loop: asyncio.AbstractEventLoop) -> list[Any]:
        starter = EagerStarter(loop)
        results = [starter.start(handler(i)) for i in range(3)]
        assert counted.made == 1  # nothing kept it: reused
        return results

    assert run_in_callback(body) == [(None, 0), (None, 2), (None, 4)]
    assert seen == ["CountedPlaceholder"] * 3


def test_a_tracer_holding_references_does_not_hide_a_kept_placeholder(
    counted: type[CountedPlaceholder],
) -> None:
    """Debuggers read frame locals, which adds references; what counts as "kept" is
    measured at each start, so a placeholder a handler kept is never handed on."""
    kept: list[Any] = []

    async def handler(n: int) -> int:
        kept.append(asyncio.current_task())
        return n

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        frame.f_locals  # noqa: B018 - what pdb and IDE debuggers do
        return tracer

    def body(loop: asyncio.AbstractEventLoop) -> None:
        sys.settrace(tracer)
        try:
            starter = EagerStarter(loop)
        finally:
            sys.settrace(None)
        assert starter.start(handler(1)) == (None, 1)
        assert starter.start(handler(2)) == (None, 2)

    run_in_callback(body)
    assert kept[0] is not kept[1]
    assert counted.made == 3


def test_exception_in_first_step_propagates() -> None:
    async def handler() -> None:
        raise KeyError("boom")

    def body(loop: asyncio.AbstractEventLoop) -> None:
        starter = EagerStarter(loop)
        with pytest.raises(KeyError):
            starter.start(handler())
        assert asyncio.current_task(loop) is None  # the placeholder was taken down

    run_in_callback(body)


def test_a_kept_placeholder_is_not_reused() -> None:
    kept: list[Any] = []

    async def keeps() -> str:
        kept.append(asyncio.current_task())
        return "ok"

    async def waits(future: asyncio.Future[str]) -> str:
        return await future

    async def main() -> None:
        loop = asyncio.get_running_loop()
        starter = EagerStarter(loop)
        future: asyncio.Future[str] = loop.create_future()
        result: list[Any] = []

        def callback() -> None:
            result.append(starter.start(keeps()))
            # A stale reference cancelled later must not reach the next call.
            kept[0].cancel()
            result.append(starter.start(waits(future)))

        loop.call_soon(callback)
        await asyncio.sleep(0)
        assert result[0] == (None, "ok")
        task, value = result[1]
        assert value is None and task is not None
        assert kept[0] is not starter._placeholder
        future.set_result("later")
        assert await asyncio.wait_for(task, 5) == "later"

    asyncio.run(main())


def test_suspending_handler_continues_in_a_task() -> None:
    tasks: list[Any] = []

    async def handler(future: asyncio.Future[int]) -> int:
        tasks.append(asyncio.current_task())
        value = await future
        tasks.append(asyncio.current_task())
        return value + 1

    async def main() -> None:
        loop = asyncio.get_running_loop()
        starter = EagerStarter(loop)
        future: asyncio.Future[int] = loop.create_future()
        started: list[Any] = []
        loop.call_soon(lambda: started.append(starter.start(handler(future))))
        await asyncio.sleep(0)
        task, _ = started[0]
        assert isinstance(task, asyncio.Task)
        placeholder = tasks[0]
        assert placeholder is not task and starter._placeholder is not placeholder
        future.set_result(41)
        assert await asyncio.wait_for(task, 5) == 42
        assert tasks[1] is task
        assert placeholder.task is task  # it forwards to the real Task now

    asyncio.run(main())


def test_cancel_requested_in_first_step_reaches_the_task() -> None:
    async def handler() -> None:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        await asyncio.sleep(10)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        starter = EagerStarter(loop)
        started: list[Any] = []
        loop.call_soon(lambda: started.append(starter.start(handler())))
        await asyncio.sleep(0)
        task, _ = started[0]
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)

    asyncio.run(main())


def test_inside_a_task_it_takes_the_ordinary_route() -> None:
    async def handler() -> int:
        return 7

    async def main() -> None:
        starter = EagerStarter(asyncio.get_running_loop())
        task, value = starter.start(handler())
        assert value is None and isinstance(task, asyncio.Task)
        assert await task == 7

    asyncio.run(main())


class Response:
    def __init__(self, name: str) -> None:
        self.name = name


def test_the_last_result_is_not_kept() -> None:
    """The starter holds no handler's result once it has handed it over: not until the
    next call, and not in the locals of that call's traceback."""

    async def first() -> Response:
        return Response("call 1")

    async def second() -> None:
        raise ValueError("call 2 fails")

    def body(loop: asyncio.AbstractEventLoop) -> tuple[bool, list[str]]:
        starter = EagerStarter(loop)
        _, result = starter.start(first())
        ref = weakref.ref(result)
        del result
        gone = ref() is None
        starter.start(first())
        try:
            starter.start(second())
        except ValueError as exc:
            tb = exc.__traceback__
        seen = []
        while tb is not None:
            seen += [v.name for v in tb.tb_frame.f_locals.values() if isinstance(v, Response)]
            tb = tb.tb_next
        return gone, seen

    assert run_in_callback(body) == (True, [])


class NotNative(Coroutine[Any, Any, Any]):
    """The Coroutine protocol without being a native coroutine (as a compiled or
    hand-written one): send/throw/close/__await__, no __iter__."""

    def __init__(self, value: Any, suspend: asyncio.Future[Any] | None = None) -> None:
        self.value = value
        self.suspend = suspend

    def send(self, arg: Any) -> Any:
        if self.suspend is not None:
            future, self.suspend = self.suspend, None
            future._asyncio_future_blocking = True  # as Future.__await__ yields it
            return future
        raise StopIteration(self.value)

    def throw(self, *args: Any) -> Any:
        raise args[0]

    def close(self) -> None:
        pass

    def __await__(self) -> Any:
        return (yield from ())


def test_coroutines_that_are_not_native_start_too() -> None:
    assert run_in_callback(lambda loop: EagerStarter(loop).start(NotNative(42))) == (None, 42)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        started = []
        starter = EagerStarter(loop)
        loop.call_soon(lambda: started.append(starter.start(NotNative(43, future))))
        await asyncio.sleep(0)
        task, value = started[0]
        assert value is None and isinstance(task, asyncio.Task)
        future.set_result(None)
        assert await asyncio.wait_for(task, 5) == 43

    asyncio.run(main())


@pytest.mark.parametrize("value", [{}, [], (), [1], b"x"])
def test_a_handler_that_returned_no_coroutine_fails_at_once(value: Any) -> None:
    """A plain function used as a handler returns its value itself: that is an error,
    whatever the value (an empty container is not a finished handler; an iterable is not
    run), raised from the start so that the call ends with it."""

    def body(loop: asyncio.AbstractEventLoop) -> Any:
        try:
            return EagerStarter(loop).start(value)
        except (AttributeError, TypeError):
            return "raised"

    assert run_in_callback(body) == "raised"
