"""Two slices handling the same event types: one handler per type that runs theirs in order, the
same object for every type it serves (so the runner still batches runs of those events)."""
from kam_shared.consumer import BatchHandler, batch_handler, combine_handlers


async def test_combined_handlers_run_in_order_in_one_call_and_keep_batches():
    calls = []

    async def first_many(session, items):
        calls.append(("first", [e for e, _ in items]))

    async def second_one(session, event, payload):
        calls.append(("second", event))

    first = batch_handler(first_many)
    only = batch_handler(first_many)
    combined = combine_handlers({"a": first, "b": first, "c": only}, {"a": second_one, "b": second_one})
    assert combined["a"] is combined["b"] and combined["c"] is only
    assert isinstance(combined["a"], BatchHandler)
    await combined["a"].apply_many(None, [("e1", None), ("e2", None)])
    assert calls == [("first", ["e1", "e2"]), ("second", "e1"), ("second", "e2")]
    calls.clear()
    await combined["b"](None, "e3", None)
    assert calls == [("first", ["e3"]), ("second", "e3")]
