"""Provisioning of the emulators: the media bucket, the topics, one push subscription per event route
(with retry and dead-letter policies), the dead-letter pull subscription, and wiping them between runs.

Push endpoints are the functions-framework URLs of the agents; tests switch subscriptions between push
(`push_endpoint`) and pull themselves (tests/support.py).
"""
from __future__ import annotations

import contextlib
import urllib.request
from collections.abc import Mapping

import google.cloud.pubsub_v1 as pubsub_v1
import google.cloud.storage as storage
from google.api_core.exceptions import AlreadyExists, Conflict
from google.protobuf import timestamp_pb2

from infra.local.components import HOST, agent_ports
from infra.local.environment import patched_environ
from shared.core import log, topics
from shared.core.config import LocalPorts

DEAD_LETTER_SUBSCRIPTION = topics.DEAD_LETTER_SUBSCRIPTION
ACK_DEADLINE_SECONDS = 600


def push_endpoint(ports: LocalPorts, project: str, route: topics.EventRoute) -> str:
    """The functions-framework URL a push subscription delivers `route.topic` to."""
    port = agent_ports(ports)[route.name][0]
    return f"http://{HOST}:{port}/projects/{project}/topics/{route.topic}"


def provision(env: Mapping[str, str], ports: LocalPorts, project: str, bucket: str) -> None:
    """Create the bucket, topics, push subscriptions and the dead-letter pull subscription (idempotent)."""
    with patched_environ(env):
        _create_bucket(project, bucket)
        _create_topics_and_subscriptions(ports, project)


def _create_bucket(project: str, bucket: str) -> None:
    with contextlib.suppress(Conflict):
        storage.Client(project=project).create_bucket(bucket)


def _create_topics_and_subscriptions(ports: LocalPorts, project: str) -> None:
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    for topic in topics.ALL_TOPICS:
        with contextlib.suppress(AlreadyExists):
            publisher.create_topic(name=publisher.topic_path(project, topic))
    dead_letter = publisher.topic_path(project, topics.DEAD_LETTER)
    for route in topics.EVENT_ROUTES:
        name = subscriber.subscription_path(project, route.subscription)
        push = {"push_endpoint": push_endpoint(ports, project, route)}
        try:
            subscriber.create_subscription(request={
                "name": name, "topic": publisher.topic_path(project, route.topic),
                "push_config": push, "ack_deadline_seconds": ACK_DEADLINE_SECONDS,
                "retry_policy": {"minimum_backoff": {"seconds": 1}, "maximum_backoff": {"seconds": 60}},
                "dead_letter_policy": {"dead_letter_topic": dead_letter,
                                       "max_delivery_attempts": topics.MAX_DELIVERY_ATTEMPTS},
            })
        except AlreadyExists:
            subscriber.modify_push_config(request={"subscription": name, "push_config": push})
    with contextlib.suppress(AlreadyExists):
        subscriber.create_subscription(request={
            "name": subscriber.subscription_path(project, DEAD_LETTER_SUBSCRIPTION),
            "topic": dead_letter, "ack_deadline_seconds": 60})
    subscriber.close()


def wipe(env: Mapping[str, str], ports: LocalPorts, project: str, bucket: str) -> None:
    """Delete every Firestore document and bucket object, and drop pending Pub/Sub messages."""
    url = (f"http://{HOST}:{ports.firestore}/emulator/v1/projects/{project}"
           "/databases/(default)/documents")
    urllib.request.urlopen(urllib.request.Request(url, method="DELETE"), timeout=10).close()
    with patched_environ(env):
        for blob in storage.Client(project=project).list_blobs(bucket):
            blob.delete()
        subscriber = pubsub_v1.SubscriberClient()
        now = timestamp_pb2.Timestamp()
        now.GetCurrentTime()
        names = [r.subscription for r in topics.EVENT_ROUTES] + [DEAD_LETTER_SUBSCRIPTION]
        for sub in names:
            try:
                subscriber.seek(request={"subscription": subscriber.subscription_path(project, sub), "time": now})
            except Exception as exc:  # noqa: BLE001 - purging is best effort
                log.warning("could not purge subscription", subscription=sub, error=str(exc))
        subscriber.close()
