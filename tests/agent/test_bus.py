"""The event bus: fan-out, order, failing subscribers, unsubscribe."""

from __future__ import annotations

import threading

from upsight.agent.bus import Bus, Message
from upsight.agent.events import Event, EventKind


def event(n: int) -> Event:
    return Event(float(n), "ups", EventKind.ONLINE, f"#{n}")


def test_every_subscriber_gets_every_message_in_order() -> None:
    bus = Bus()
    got: dict[str, list[Message]] = {"a": [], "b": []}
    done = threading.Event()
    bus.subscribe(got["a"].append)

    def second(message: Message) -> None:
        got["b"].append(message)
        if len(got["b"]) == 100:
            done.set()

    bus.subscribe(second)
    bus.start()

    def publish_fifty(k: int) -> None:
        for i in range(50):
            bus.publish(event(k * 50 + i))

    publishers = [threading.Thread(target=publish_fifty, args=(k,)) for k in range(2)]
    for thread in publishers:
        thread.start()
    for thread in publishers:
        thread.join()
    assert done.wait(5)
    bus.stop()
    assert got["a"] == got["b"]
    for k in range(2):
        mine = [m.at for m in got["a"] if isinstance(m, Event) and k * 50 <= m.at < k * 50 + 50]
        assert mine == sorted(mine), "one publisher's messages keep their order"


def test_a_failing_subscriber_does_not_stop_delivery() -> None:
    bus = Bus()
    received: list[Message] = []

    def broken(_: Message) -> None:
        raise RuntimeError("subscriber bug")

    bus.subscribe(broken)
    bus.subscribe(received.append)
    bus.start()
    bus.publish(event(1))
    bus.publish(event(2))
    bus.stop()
    assert [m.at for m in received if isinstance(m, Event)] == [1.0, 2.0]


def test_unsubscribe_stops_delivery() -> None:
    bus = Bus()
    received: list[Message] = []
    unsubscribe = bus.subscribe(received.append)
    bus.start()
    bus.publish(event(1))
    bus.stop()
    unsubscribe()
    bus.start()
    bus.publish(event(2))
    bus.stop()
    assert len(received) == 1
