"""Stacks for the reliability suites (marked `reliability`)."""

from __future__ import annotations

import pytest

from tests.support import destroy_stack, start_stack


@pytest.fixture(scope="module")
def small_stack(nats_server):
    """Two API processes on one projection: made for races."""
    s = start_stack(nats_server, apis=2)
    try:
        yield s
    finally:
        destroy_stack(s)


@pytest.fixture
def vni_stack(nats_server):
    """Two API processes and only five VXLAN ids to share."""
    s = start_stack(nats_server, apis=2, extra_env={"NETLEDGER_VNI_RANGE": "100:104"})
    try:
        yield s
    finally:
        destroy_stack(s)
