"""The Redis broker transport the desk selects: kombu's, with one command client per channel
(desk/jobs/redis_transport.py). Delivery, acknowledgement and redelivery after a crash are covered end to end by
test_workers.py; this checks the selection and the bookkeeping a late ack relies on."""

from __future__ import annotations

import time

import pytest
from kombu import Connection, Exchange, Queue

from desk.jobs import redis_transport
from desk.jobs.broker import ANSWER_TASK, CREW_QUEUE, make_celery, send_answer
from desk.settings import Settings
from tests.jobs.conftest import RABBIT_URL, REDIS_URL, broker_down


def test_a_redis_broker_url_selects_the_desks_transport_and_amqp_keeps_kombus() -> None:
    redis_app = make_celery(Settings(celery_broker_url=REDIS_URL))
    amqp_app = make_celery(Settings(celery_broker_url=RABBIT_URL))
    assert redis_app.connection_for_write().transport_cls == redis_transport.TRANSPORT
    assert amqp_app.connection_for_write().transport_cls == "amqp"


def test_an_unacked_message_is_tracked_until_acked_with_one_client_per_channel() -> None:
    reason = broker_down(REDIS_URL)
    if reason is not None:
        pytest.skip(reason)
    queue = Queue("transport-check", Exchange("transport-check"), routing_key="transport-check")
    with Connection(REDIS_URL, transport=redis_transport.TRANSPORT) as conn:
        channel = conn.channel()
        assert isinstance(channel, redis_transport.Channel)
        producer = conn.Producer(channel)
        producer.publish({"job": "j-1"}, exchange=queue.exchange, routing_key="transport-check", declare=[queue])
        message = queue(channel).get(no_ack=False)
        assert message is not None and message.payload == {"job": "j-1"}
        client = channel._create_client()
        assert channel._create_client() is client  # every command of this channel shares it
        # Until the ack the message is in the unacked hash: a worker killed now gets it redelivered.
        assert client.hexists(channel.unacked_key, message.delivery_tag)
        message.ack()
        assert not client.hexists(channel.unacked_key, message.delivery_tag)
        channel.close()


def test_a_job_sent_before_any_worker_declared_its_queue_waits_there(broker_url: str) -> None:
    # RabbitMQ drops a message sent to a queue that does not exist, so the hand-off declares the queue there;
    # on Redis it skips the declaration, and the message must still be on the queue a worker will read.
    app = make_celery(Settings(celery_broker_url=broker_url))
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        channel.queue_delete(CREW_QUEUE)
        send_answer(app, "job-before-any-worker")
        queue = Queue(CREW_QUEUE, routing_key=CREW_QUEUE)(channel)
        # The publish went out on another connection of Celery's pool, without a confirm: allow it to arrive.
        deadline, message = time.monotonic() + 5.0, None
        while message is None and time.monotonic() < deadline:
            message = queue.get(no_ack=True)
            time.sleep(0 if message is not None else 0.05)
    assert message is not None
    assert message.headers["task"] == ANSWER_TASK
    assert message.payload[0] == ["job-before-any-worker"]
