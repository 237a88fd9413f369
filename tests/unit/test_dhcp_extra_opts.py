"""The extra_dhcp_opt attribute: validation and Neutron's update merge (pure)."""

from __future__ import annotations

import pytest

from netledger.errors import InvalidInput
from netledger.libs.events.port import ExtraDhcpOpt
from netledger.services.dhcp import extra_opts


def test_valid_options_get_a_default_ip_version():
    assert extra_opts.validate([{"opt_name": "bootfile-name", "opt_value": "pxe.0"},
                                {"opt_name": "dns-server", "opt_value": "[2001:db8::1]", "ip_version": "6"},
                                {"opt_name": "42", "opt_value": "1.2.3.4"}]) == [
        {"opt_name": "bootfile-name", "opt_value": "pxe.0", "ip_version": 4},
        {"opt_name": "dns-server", "opt_value": "[2001:db8::1]", "ip_version": 6},
        {"opt_name": "42", "opt_value": "1.2.3.4", "ip_version": 4}]


@pytest.mark.parametrize("bad", [
    "nope", [{"opt_value": "x"}], [{"opt_name": "mtu", "opt_value": "1\n2"}],
    [{"opt_name": "no such option", "opt_value": "1"}], [{"opt_name": "not-an-option", "opt_value": "1"}],
    [{"opt_name": "mtu", "opt_value": "1", "ip_version": 5}], [{"opt_name": "mtu", "opt_value": "1", "x": 1}],
    [{"opt_name": "mtu", "opt_value": "1"}, {"opt_name": "mtu", "opt_value": "2"}],
    [{"opt_name": "mtu", "opt_value": "1", "ip_version": 6}], [{"opt_name": "300", "opt_value": "1"}],
])
def test_invalid_options_are_400(bad):
    with pytest.raises(InvalidInput):
        extra_opts.validate(bad)


def test_create_drops_nulls_and_update_merges_like_neutron():
    assert extra_opts.for_create(extra_opts.validate([{"opt_name": "mtu", "opt_value": None}])) == ()
    current = [{"opt_name": "mtu", "opt_value": "1400", "ip_version": 4},
               {"opt_name": "router", "opt_value": "10.0.0.1", "ip_version": 4}]
    changes = extra_opts.validate([{"opt_name": "mtu", "opt_value": None},
                                   {"opt_name": "router", "opt_value": "10.0.0.9"},
                                   {"opt_name": "ntp-server", "opt_value": "10.0.0.5"}])
    assert extra_opts.merge(current, changes) == (
        ExtraDhcpOpt(opt_name="router", opt_value="10.0.0.9", ip_version=4),
        ExtraDhcpOpt(opt_name="ntp-server", opt_value="10.0.0.5", ip_version=4))
