"""Lease liveness: a live lease blocks others, never its owner; an expired or missing one blocks no one."""
import datetime as dt

from shared.core import lease
from shared.core.status import utcnow


def test_lease_liveness():
    fresh = lease.lease_fields("a", 60)["lease"]
    assert lease.is_live(fresh)
    assert not lease.is_live(fresh, owner="a"), "an owner is never blocked by its own lease"
    assert not lease.is_live({"owner": "b", "until": utcnow() - dt.timedelta(seconds=1)})
    assert not lease.is_live(None)
