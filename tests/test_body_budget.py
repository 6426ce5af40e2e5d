"""The request-body budget on its own: order, waiting, giving back, and what never fits."""

from __future__ import annotations

import asyncio

import pytest

from ccr_aio.config import ServerLimits
from ccr_aio.errors import ApiError
from ccr_aio.routes.body_budget import BodyBudget, Busy, Reservation

LIMITS = ServerLimits(body_budget=100, body_wait=5.0)


async def test_requests_that_fit_go_at_once_and_the_rest_in_arrival_order() -> None:
    budget = BodyBudget()
    order: list[str] = []
    first, second = Reservation(budget, LIMITS), Reservation(budget, LIMITS)
    await first.add(60)

    async def later(name: str, cost: int) -> Reservation:
        reservation = Reservation(budget, LIMITS)
        await reservation.add(cost)
        order.append(name)
        return reservation

    big = asyncio.create_task(later("big", 70))
    await asyncio.sleep(0)
    small = asyncio.create_task(later("small", 10))  # would fit now, but waits its turn
    await asyncio.sleep(0)
    assert order == [] and budget.used == 60
    first.release()  # both fit now, and go in the order they came
    big_reservation, small_reservation = await big, await small
    assert order == ["big", "small"] and budget.used == 80
    await second.add(20)  # nobody waits any more: fits at once
    assert budget.used == 100
    for reservation in (big_reservation, small_reservation, second):
        reservation.release()
    assert budget.used == 0 and not budget.waiting


async def test_a_wait_that_ends_leaves_the_line_and_lets_the_next_in() -> None:
    budget = BodyBudget()
    holder = Reservation(budget, LIMITS)
    await holder.add(90)
    short = Reservation(budget, ServerLimits(body_budget=100, body_wait=0.05))
    with pytest.raises(Busy):
        await short.add(50)
    assert short.cost == 0 and budget.used == 90
    assert not budget.waiting
    blocked = asyncio.create_task(Reservation(budget, LIMITS).add(50))
    behind = asyncio.create_task(Reservation(budget, LIMITS).add(5))
    await asyncio.sleep(0)
    assert not behind.done()  # it fits, but `blocked` came first
    blocked.cancel()  # a client that went away while waiting
    await asyncio.gather(blocked, return_exceptions=True)
    await asyncio.wait_for(behind, 1)
    assert budget.used == 95 and not budget.waiting


async def test_a_request_growing_its_reservation_goes_before_those_in_line() -> None:
    budget = BodyBudget()
    chunked = Reservation(budget, LIMITS)
    await chunked.add(60)
    newcomer = asyncio.create_task(Reservation(budget, LIMITS).add(60))
    await asyncio.sleep(0)
    await asyncio.wait_for(chunked.add(30), 1)  # not stuck behind the newcomer waiting for it
    assert budget.used == 90 and not newcomer.done()
    chunked.release()
    await newcomer
    assert budget.used == 60


async def test_what_can_never_fit_is_413_at_once() -> None:
    budget = BodyBudget()
    reservation = Reservation(budget, ServerLimits(body_budget=100 * 1024 * 1024))
    await reservation.add(60 * 1024 * 1024)
    with pytest.raises(ApiError) as info:
        await reservation.add(41 * 1024 * 1024)
    assert info.value.status == 413
    assert info.value.message == (
        "Request body too large: handling it would take about 101 MB of memory, more than the budget "
        "for request bodies (BODY_BUDGET_MB: 100)"
    )
    assert budget.used == 60 * 1024 * 1024
