"""`read_until_changed` with a remembered read: a long-polling client's next waiting read, sent with
the tag it has just been given, waits without reading the same figures again, and still answers as
soon as anything is applied."""
import asyncio

from kam_shared.applied import AppliedSignal, read_until_changed


class CountingRead:
    def __init__(self) -> None:
        self.figures, self.reads = 1, 0

    async def __call__(self):
        self.reads += 1
        return {"figures": self.figures}


def tag_of(body) -> str:
    return f'W/"{body["figures"]}"'


async def test_a_read_remembered_with_nothing_applied_since_waits_without_reading_again():
    signal, read = AppliedSignal(), CountingRead()  # no channel: this process hears every batch
    key = ("rollup", "reader", "query")
    body, tag = await read_until_changed(read, tag_of, signal, None, 0, key=key)
    assert body == {"figures": 1} and read.reads == 1
    waiting = asyncio.create_task(read_until_changed(read, tag_of, signal, tag, 10, key=key))
    await asyncio.sleep(0.2)
    assert not waiting.done() and read.reads == 1  # the same figures are not read again
    read.figures = 2
    signal.notify()  # a batch applied
    body, new_tag = await asyncio.wait_for(waiting, 5)
    assert body == {"figures": 2} and new_tag != tag and read.reads == 2


async def test_another_tag_another_key_or_a_batch_in_between_reads_at_once():
    signal, read = AppliedSignal(), CountingRead()
    key = ("rollup", "reader", "query")
    _, tag = await read_until_changed(read, tag_of, signal, None, 0, key=key)
    # Another reader or query with the same tag was never remembered: it reads first, waits, and
    # reads once more at the end of its wait (as every waiting read does before its 304).
    other = await read_until_changed(read, tag_of, signal, tag, 0.3, key=("rollup", "other", "query"))
    assert other == (None, tag) and read.reads == 3
    # A client holding an older tag is answered from a read at once.
    assert (await read_until_changed(read, tag_of, signal, 'W/"0"', 10, key=key))[0] == {"figures": 1}
    assert read.reads == 4
    # A batch applied after the remembered read: the next waiting read reads again before waiting.
    signal.notify()
    quiet = await read_until_changed(read, tag_of, signal, tag, 0.3, key=key)
    assert quiet == (None, tag) and read.reads == 6


async def test_a_replica_that_may_have_missed_a_notification_reads_again():
    # On PostgreSQL with a channel, a replica hears other replicas only through LISTEN; until its
    # listener is up, nothing it remembers is trusted.
    signal = AppliedSignal("postgresql+asyncpg://kam@127.0.0.1:1/none", "kam_applied")
    read = CountingRead()
    key = ("rollup", "reader", "query")
    _, tag = await read_until_changed(read, tag_of, signal, None, 0, key=key)
    assert signal.unchanged_since(key, tag) is None
    signal._listening = True
    assert signal.unchanged_since(key, tag) is signal.current()
    assert signal.unchanged_since(key, 'W/"0"') is None
